"""The fresh sale's one statement (`pos_redeem` given the request's hash, migration 0730): it
moves the value, stores the new key with its answer and writes the outbox event together,
or writes nothing at all."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from pos.db.pool import create_pool
from pos.ids import uuid7
from pos.storage import event_queue
from pos.storage.claim_and_redeem import claim_and_redeem
from pos.storage.ledger import verify_ledger
from pos.storage.redemptions import NewRedemption, Redeemed, RedeemRefusal
from tests.conftest import Shop, World, basket, new_key


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool[Any]]:
    made = await create_pool(database_url, min_size=1, max_size=2)
    yield made
    await made.close()


async def _sale(world: World, db: asyncpg.Connection[Any]) -> tuple[Shop, str, int, str]:
    """A shop and a voucher it takes: the voucher's id, token generation and token."""
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    iat = await db.fetchval("SELECT token_iat FROM vouchers WHERE id = $1", voucher["id"])
    return shop, voucher["id"], int(iat), voucher["token"]


def _new(shop: Shop, voucher_id: str, iat: int, key: str, amount: int) -> NewRedemption:
    line = {"line_no": 1, "sku": "RICE", "gtin": None, "category": "food",
            "description": "Rice", "quantity": 1, "unit_price": amount, "line_total": amount,
            "eligible": True, "rule": "any", "reason": "ok", "detail": None}
    return NewRedemption(
        redemption_id=str(uuid7()), voucher_id=voucher_id, merchant_id=shop.merchant_id,
        till_id=shop.till_id, idem_key=key, idem_owner=str(uuid.uuid4()), currency="CNY",
        basket_total=amount, eligible_total=amount, wanted=amount, requested=None,
        channel="cash", lines=[line], response={"status": "captured"}, token_iat=iat)


async def test_a_fresh_sale_stores_its_answer_with_the_key(
    world: World, db: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    shop, voucher_id, iat, _ = await _sale(world, db)
    key = new_key()
    new = _new(shop, voucher_id, iat, key, 1200)
    outcome = await claim_and_redeem(pool, new, b"h" * 32)
    assert isinstance(outcome, Redeemed)
    answer = outcome.answer
    assert answer["covered"] == 1200 and answer["balance_after"] == 30000 - 1200
    row = await db.fetchrow("SELECT status, response_status, response_body::text AS body "
                            "FROM idempotency_keys WHERE till_id = $1 AND key = $2",
                            shop.till_id, key)
    assert row is not None and row["status"] == "done" and row["response_status"] == 201
    assert json.loads(row["body"]) == answer
    assert all(check.ok for check in await verify_ledger(db))
    # The event, named by the redemption, is delivered with the row as it was inserted.
    (event,) = await event_queue.claim_due(pool, 10, 30.0)
    assert (event.id, event.kind) == (new.redemption_id, "redemption.committed")
    stored = await db.fetchval("SELECT to_jsonb(r)::text FROM redemptions r")
    assert {k: v for k, v in event.payload.items() if k != "lines"} == json.loads(stored)
    assert [line["sku"] for line in event.payload["lines"]] == ["RICE"]


async def test_a_key_held_by_another_request_writes_nothing(
    world: World, db: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    shop, voucher_id, iat, _ = await _sale(world, db)
    key, holder = new_key(), str(uuid.uuid4())
    await db.execute(
        "INSERT INTO idempotency_keys (till_id, key, request_hash, owner, status, lease_until) "
        "VALUES ($1, $2, $3, $4, 'running', now() + interval '1 minute')",
        shop.till_id, key, b"x" * 32, holder)
    outcome = await claim_and_redeem(pool, _new(shop, voucher_id, iat, key, 1200),
                                     b"h" * 32)
    assert outcome is None  # the general path judges it
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0
    assert await db.fetchval("SELECT owner::text FROM idempotency_keys WHERE key = $1",
                             key) == holder
    assert (await world.voucher(voucher_id))["balance"] == 30000


async def test_a_key_claimed_by_an_open_request_is_not_waited_for(
    world: World, db: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """The general path's claim, not yet committed, holds the key's advisory lock: the
    fresh statement gives way at once (no wait, and so no deadlock with a claim that then
    waits for the voucher this statement would have locked)."""
    shop, voucher_id, iat, _ = await _sale(world, db)
    key = new_key()
    async with pool.acquire() as holder, holder.transaction():
        await holder.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || ':' || $2, 15))",
            shop.till_id, key)
        await holder.execute(
            "INSERT INTO idempotency_keys (till_id, key, request_hash, owner, status, "
            "lease_until) VALUES ($1, $2, $3, $4, 'running', now() + interval '1 minute')",
            shop.till_id, key, b"x" * 32, str(uuid.uuid4()))
        outcome = await asyncio.wait_for(
            claim_and_redeem(pool, _new(shop, voucher_id, iat, key, 1200), b"h" * 32), 5)
        assert outcome is None
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox_events") == 0
    assert (await world.voucher(voucher_id))["balance"] == 30000


async def test_a_refusal_under_the_lock_leaves_no_claim_behind(
    world: World, db: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    shop, voucher_id, iat, token = await _sale(world, db)
    # Suspended after the till loaded it: the function finds out under the voucher's lock.
    await db.execute("UPDATE vouchers SET status = 'suspended' WHERE id = $1", voucher_id)
    key = new_key()
    outcome = await claim_and_redeem(pool, _new(shop, voucher_id, iat, key, 1200),
                                     b"h" * 32)
    assert outcome is RedeemRefusal.VOUCHER_SUSPENDED
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", key) == 0
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0
    # Active again, the same key is free for the cashier's retry, over HTTP.
    await db.execute("UPDATE vouchers SET status = 'active' WHERE id = $1", voucher_id)
    resp = await world.client.post(
        "/v1/redemptions", json={"token": token, "basket": basket(("food", 1, 1200))},
        headers=shop.headers(key))
    assert resp.status == 201, await resp.text()


async def test_a_retry_replays_the_fresh_sales_answer_byte_for_byte(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    shop, voucher_id, _, token = await _sale(world, db)
    body = {"token": token, "basket": basket(("food", 1, 2500))}
    key = new_key()
    first = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(key))
    again = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(key))
    assert (first.status, again.status) == (201, 201)
    assert await first.read() == await again.read()
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 1
    assert (await world.voucher(voucher_id))["balance"] == 30000 - 2500

