"""Reports read from a streaming replica: a real standby of the test server (the same
PostgreSQL binaries, `pg_basebackup -R`, streaming), `[database] replica_url` pointing at
it. The report waits until the standby has replayed the redemption it must show, is read
on the standby (its own statistics say so), and still comes, from the primary, when the
standby is stopped."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from pos.api.app import create_app
from tests.conftest import ADMIN, World, basket, make_config, new_key

REPORTS_APP = "pos-replica-check"


def _pg(command: str, *args: str, **kwargs: Any) -> None:
    """Run a binary of the embedded PostgreSQL (as its system user when we are root)."""
    import pgserver._commands as pg_commands
    import pgserver.utils as pg_utils

    user = "pgserver" if os.geteuid() == 0 else None
    if user is not None:
        pg_utils.ensure_user_exists(user)
    getattr(pg_commands, command)(list(args), user=user, timeout=120, **kwargs)


@pytest.fixture
def standby(server_url: str, tmp_path: Path) -> Iterator[str]:
    """A streaming standby of the session's server; yields its socket folder."""
    primary_socket = parse_qs(urlsplit(server_url).query).get("host", [""])[0]
    if not primary_socket or os.environ.get("POS_DATABASE_URL"):
        pytest.skip("needs the embedded server (a Unix socket and replication rights)")
    folder = tmp_path / "standby"
    folder.mkdir(mode=0o700)
    if os.geteuid() == 0:
        import pgserver.utils as pg_utils

        pg_utils.ensure_prefix_permissions(folder)
        shutil.chown(folder, "pgserver", "pgserver")
    started = time.perf_counter()
    _pg("pg_basebackup", "-D", str(folder), "-R", "-X", "stream", "-h", primary_socket,
        "-U", "postgres", "-c", "fast")
    # The primary keeps its socket in its data folder: its lock file came along.
    for leftover in (".s.PGSQL.5432.lock", ".handle_pids.json", "log"):
        (folder / leftover).unlink(missing_ok=True)
    # Every statement is logged with its application's name: the proof of where a report
    # was read.
    _pg("pg_ctl", "-w", "-o", '-h ""', "-o", f"-k {folder}", "-o", "-c log_statement=all",
        "-o", "-c log_line_prefix='%a: '", "-l", str(folder / "standby.log"), "start",
        pgdata=folder)
    print(f"\nstandby ready in {time.perf_counter() - started:.1f} s")
    try:
        yield str(folder)
    finally:
        if (folder / "postmaster.pid").exists():  # not stopped by the test already
            _pg("pg_ctl", "-m", "immediate", "stop", pgdata=folder)


async def test_reports_are_served_from_the_standby(
        aiohttp_client: Any, database_url: str, standby: str, tmp_path: Path) -> None:
    database = urlsplit(database_url).path.lstrip("/")
    replica_url = (f"postgresql://postgres:@/{database}?host={standby}"
                   f"&application_name={REPORTS_APP}")
    config = make_config(database_url, tmp_path / "data", POS_DATABASE_REPLICA_URL=replica_url)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(config))
    try:
        world = World(client)
        shop = await world.shop()
        program = await world.program(partners=[shop])
        (voucher,) = await world.issue(program)
        resp = await client.post(
            "/v1/redemptions", headers=shop.headers(new_key()),
            json={"token": voucher["token"], "basket": basket(("food", 1, 4200))})
        assert resp.status == 201

        # At once: the report waits for the standby to replay the redemption.
        resp = await client.get(f"/v1/programs/{program}/report", headers=ADMIN)
        assert resp.status == 200
        assert (await resp.json())["value"]["redeemed"] == 4200

        standby_conn = await asyncpg.connect(f"postgresql://postgres:@/{database}"
                                             f"?host={standby}")
        try:
            assert await standby_conn.fetchval("SELECT pg_is_in_recovery()")
        finally:
            await standby_conn.close()
        # The standby's log: the service's reader checked the replay position there, then
        # ran the report's queries there.
        standby_log = (Path(standby) / "standby.log").read_text(errors="replace")
        statements = standby_log.split(f"\n{REPORTS_APP}: LOG:  ")
        assert any("pg_last_wal_replay_lsn" in s for s in statements), standby_log[-2000:]
        assert any("FROM credits WHERE voucher_id" in s for s in statements)

        # The standby goes away: the report still comes, from the primary.
        await asyncio.to_thread(_pg, "pg_ctl", "-m", "immediate", "stop",
                                pgdata=Path(standby))
        resp = await client.get(f"/v1/programs/{program}/report", headers=ADMIN)
        assert resp.status == 200
        assert (await resp.json())["value"]["redeemed"] == 4200
    finally:
        await client.close()
