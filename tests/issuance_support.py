"""Helpers shared by the issuance, QR, card, lifecycle and key-rotation tests (no tests)."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from pos.config import Config
from tests.conftest import ADMIN, ADMIN_TOKEN, CHINESE, Shop, World, basket

ROOT = Path(__file__).parent.parent


def csv_bytes(rows: list[dict[str, str]], header: tuple[str, ...] = ("ref", "holder_ref",
                                                                     "note")) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue().encode()


async def upload(client: TestClient[Any, Any], program_id: str, data: bytes, *,
                 content_type: str = "text/csv", batch_id: str | None = None,
                 lang: str = "zh-CN") -> tuple[int, dict[str, Any]]:
    params = {"batch_id": batch_id} if batch_id else {}
    resp = await client.post(f"/v1/programs/{program_id}/issuances", data=data,
                             params=params, headers={**ADMIN, "Content-Type": content_type,
                                                     "Accept-Language": lang})
    return resp.status, await resp.json(content_type=None)


async def exported(client: TestClient[Any, Any], issuance_id: str) -> list[dict[str, str]]:
    resp = await client.get(f"/v1/issuances/{issuance_id}/vouchers.csv", headers=ADMIN)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    text = (await resp.read()).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


async def quote(world: World, shop: Shop, *, token: str | None = None,
                code: str | None = None, amount: int = 1000) -> tuple[int, dict[str, Any]]:
    """Ask the till what the voucher covers: the real proof that a token or code works."""
    body: dict[str, Any] = {"basket": basket(("stationery", 1, amount))}
    body.update({"token": token} if token is not None else {"code": code})
    resp = await world.client.post("/v1/quotes", json=body, headers=shop.headers())
    return resp.status, await resp.json()


async def redeem(world: World, shop: Shop, token: str, amount: int, key: str
                 ) -> tuple[int, dict[str, Any]]:
    body = {"token": token, "basket": basket(("stationery", 1, amount))}
    resp = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(key))
    return resp.status, await resp.json()


@asynccontextmanager
async def connect(config: Config) -> AsyncIterator[asyncpg.Connection[Any]]:
    conn = await asyncpg.connect(config.database.url)
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads,
                              schema="pg_catalog")
    try:
        yield conn
    finally:
        await conn.close()


async def ledger_ok(config: Config) -> None:
    from pos.storage.ledger import verify_ledger

    async with connect(config) as conn:
        checks = await verify_ledger(conn)
    assert all(c.ok for c in checks), [c.problems for c in checks if not c.ok]


@dataclasses.dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def run_pos(config: Config, *args: str, cwd: Path | None = None,
                  env: dict[str, str] | None = None) -> Ran:
    """Run the `pos` command against the test's database and data folder, in Chinese (the
    default) unless `env` says otherwise (`ENGLISH`)."""
    env = {**os.environ, "POS_DATABASE_URL": config.database.url,
           "POS_DATA_DIR": str(config.data_dir), "POS_ADMIN_TOKEN": ADMIN_TOKEN,
           **CHINESE, **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pos.cli.main", "--config", str(ROOT / "config.toml"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd)
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())
