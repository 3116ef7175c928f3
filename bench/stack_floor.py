"""The stack's floor: the least an aiohttp and asyncpg service can do per redemption.

    .venv/bin/python -m bench.stack_floor DATABASE_URL PORT TILLS_FILE

`bench/redeem.py` starts it beside `pos run`, on the same database, and drives it with the
same wrk script. Per request it does only what no service on this stack can skip: HTTP in
and out (aiohttp on uvloop, as `pos run` serves), the till found by its secret's SHA-256,
the body read as JSON, the voucher found by its token's id (unverified), then the two
statements of the till's path (`pos.storage.claim_and_redeem`: the voucher's load, then
`pos_redeem` with the new key and its answer) on one connection of a pool made by
`pos.db.pool.create_pool`, and the stored answer sent back as it is.

It skips what `pos run` does besides: the token's signature and checks, the till's
validation and rules, the request's validation, problems, metrics, logs and the delivery of
the sale's event. So its throughput over the database-only ceiling bounds what any service
of this design reaches on the same machine, and `pos run`'s over the floor's says how much
of the rest is the service's own work.

TILLS_FILE is JSON: {till secret: till id}. The vouchers come from the bench's
`bench_pairs` table.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pos.db.pool import create_pool  # noqa: E402
from pos.ids import uuid7  # noqa: E402
from pos.storage.claim_and_redeem import CLAIM_AND_REDEEM, LOAD_BY_ID  # noqa: E402

POOL: web.AppKey[asyncpg.Pool[Any]] = web.AppKey("pool")
TILLS: web.AppKey[dict[bytes, str]] = web.AppKey("tills")
VOUCHERS: web.AppKey[dict[str, asyncpg.Record]] = web.AppKey("vouchers")


def sale_line(basket_line: dict[str, Any]) -> dict[str, Any]:
    """The one basket line as the till's path stores it: eligible under the program's
    'any' rule."""
    return {**basket_line, "line_no": 1, "gtin": None, "line_total": 100, "eligible": True,
            "rule": "any", "reason": "Any purchase is allowed by this program.",
            "detail": None}


def sale_answer(line: dict[str, Any], **ids: str) -> dict[str, Any]:
    """The answer `pos_redeem` stores with the key and the till gets."""
    return {"id": ids["id"], "voucher_id": ids["voucher_id"],
            "program_id": ids["program_id"], "merchant_id": ids["merchant_id"],
            "till_id": ids["till_id"], "currency": "CNY", "status": "captured",
            "channel": "cash", "basket_total": 100, "eligible_total": 100,
            "lines": [line], "payment": None}


def peek_jti(token: str) -> str:
    """The voucher id a token names, read without verifying it."""
    payload = token.split(".")[1]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(data["jti"])


async def redeem(request: web.Request) -> web.Response:
    secret = request.headers.get("Authorization", "").removeprefix("Bearer ")
    till_id = request.app[TILLS].get(hashlib.sha256(secret.encode()).digest())
    if till_id is None:
        return web.Response(status=401)
    key = request.headers["Idempotency-Key"]
    raw = await request.read()
    body = json.loads(raw)
    voucher = request.app[VOUCHERS][peek_jti(body["token"])]
    line = sale_line(body["basket"]["lines"][0])
    redemption_id = str(uuid7())
    async with request.app[POOL].acquire() as conn:
        loaded = await conn.fetchrow(LOAD_BY_ID, voucher["voucher_id"], voucher["kid"],
                                     voucher["merchant_id"], till_id, key)
        if loaded is None or loaded["key_used"]:
            return web.Response(status=409)
        answer = sale_answer(line, id=redemption_id, voucher_id=str(voucher["voucher_id"]),
                             program_id=str(loaded["program_id"]),
                             merchant_id=str(voucher["merchant_id"]), till_id=till_id)
        doc = await conn.fetchrow(
            CLAIM_AND_REDEEM, redemption_id, voucher["voucher_id"], voucher["merchant_id"],
            till_id, key, str(uuid.uuid4()), "CNY", 100, 100, 100, None, "cash", [line],
            answer, voucher["token_iat"], hashlib.sha256(raw).digest())
    if doc is None or doc["outcome"] != "ok":
        return web.Response(status=409)
    return web.Response(status=201, body=doc["answer"].encode(),
                        content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def serve(database: str, port: int, tills: dict[str, str]) -> None:
    app = web.Application()
    pool = await create_pool(database, min_size=2, max_size=32)
    app[POOL] = pool
    app[TILLS] = {hashlib.sha256(secret.encode()).digest(): till_id
                  for secret, till_id in tills.items()}
    app[VOUCHERS] = {str(row["voucher_id"]): row for row in await pool.fetch(
        "SELECT voucher_id, kid, merchant_id, till_id, token_iat FROM bench_pairs")}
    app.router.add_post("/v1/redemptions", redeem)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(sys.argv[1], int(sys.argv[2]),
                         json.loads(Path(sys.argv[3]).read_text())))
