"""`pos run` started before its PostgreSQL (a reboot where the database comes up last)
waits for it and then serves, instead of exiting; and it gives up with a clear error once
`[database] start_wait_seconds` have passed. `pos` commands do not wait.

The database is reached through a TCP relay in front of the test server's Unix socket,
which starts listening only after the service has tried and failed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp

from tests.conftest import CHINESE, ENGLISH
from tests.service_process import free_port, start_service

WAIT_BEFORE_DATABASE_SECONDS = 2.0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def relay(port: int, socket_path: str) -> AsyncIterator[None]:
    """127.0.0.1:`port` relayed to the server's Unix socket."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(socket_path)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


def _logged(folder: Path, text: str) -> bool:
    return any(text in log.read_text(errors="replace") for log in folder.glob("service-*.log"))


async def _until_logged(folder: Path, text: str) -> None:
    for _ in range(600):
        if _logged(folder, text):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never logged: {text}")


def _tcp_url(database_url: str, port: int) -> tuple[str, str]:
    """The database's URL through the relay, and the server's socket file."""
    parsed = urlparse(database_url)
    socket_dir = parse_qs(parsed.query)["host"][0]
    user = parsed.username or "postgres"
    url = f"postgresql://{user}@127.0.0.1:{port}{parsed.path}"
    return url, os.path.join(socket_dir, f".s.PGSQL.{parsed.port or 5432}")


async def test_the_service_waits_for_a_database_that_comes_up_late(
        database_url: str, tmp_path: Path) -> None:
    port = free_port()
    url, socket_path = _tcp_url(database_url, port)
    starting = asyncio.create_task(start_service(
        tmp_path / "data", env_overrides={"POS_DATABASE_URL": url,
                                          "POS_DATABASE_START_WAIT_SECONDS": "60"}))
    await _until_logged(tmp_path, "the database cannot be reached yet")
    await asyncio.sleep(WAIT_BEFORE_DATABASE_SECONDS)
    assert not starting.done()  # still waiting: neither serving nor gone
    async with relay(port, socket_path):
        service = await starting
        try:
            async with aiohttp.ClientSession() as session, \
                    session.get(service.url + "/readyz") as resp:
                assert resp.status == 200
            log = service.log_text()
            assert url not in log and f"127.0.0.1:{port}" not in log  # it may hold a password
        finally:
            # In a thread: this loop runs the relay, which must carry the service's goodbye
            # to the database while it stops (blocking here held it up until it was killed).
            await asyncio.to_thread(service.stop)
    assert service.process.returncode == 0  # stopped by itself, not killed after a wait


async def test_the_service_gives_up_after_its_wait(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_")}
    env.update({"POS_DATA_DIR": str(tmp_path / "data"), "POS_CONFIG": "/nonexistent",
                "POS_SERVER_PORT": str(free_port()),
                "POS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x",
                "POS_DATABASE_START_WAIT_SECONDS": "1", **ENGLISH})
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "pos.cli.main", "run", "--workers", "1"],
        env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "could not be reached within 1 s" in done.stderr + done.stdout


async def test_a_command_does_not_wait(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_")}
    env.update({"POS_DATA_DIR": str(tmp_path / "data"), "POS_CONFIG": "/nonexistent",
                "POS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x",
                "POS_DATABASE_START_WAIT_SECONDS": "600"})
    for locale, said in ((CHINESE, "错误：无法连接 PostgreSQL"),  # noqa: RUF001
                         (ENGLISH, "error: could not connect to PostgreSQL")):
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "pos.cli.main", "verify"],
            env={**env, **locale}, capture_output=True, text=True, timeout=60)
        assert done.returncode != 0
        assert said in done.stderr, done.stderr
