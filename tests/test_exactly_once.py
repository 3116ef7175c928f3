"""No value is ever redeemed twice: concurrent tills, repeated keys, voids."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import asyncpg
from aiohttp import web

from pos.storage.ledger import verify_ledger
from tests.conftest import World, basket, new_key


async def test_fifty_concurrent_redemptions_exactly_thirty_fit(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    shop = await world.shop()
    program = await world.program(face_value=30 * 1000, partners=[shop])
    (voucher,) = await world.issue(program)
    body = {"token": voucher["token"], "basket": basket(("food", 1, 1000))}

    async def one() -> tuple[int, dict[str, Any]]:
        resp = await world.client.post("/v1/redemptions", json=body,
                                       headers=shop.headers(new_key()))
        return resp.status, await resp.json()

    results = await asyncio.gather(*(one() for _ in range(50)))
    outcomes = Counter(status if status == 201 else body["code"] for status, body in results)
    assert outcomes == {201: 30, "voucher_exhausted": 20}
    assert (await world.voucher(voucher["id"]))["balance"] == 0
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 30
    assert await db.fetchval("SELECT sum(covered) FROM redemptions") == 30000
    assert all(check.ok for check in await verify_ledger(db))


async def test_same_key_twenty_times_at_once_redeems_once(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    body = {"token": voucher["token"], "basket": basket(("food", 1, 2500))}
    key = new_key()

    async def one() -> tuple[int, dict[str, Any]]:
        resp = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(key))
        return resp.status, await resp.json()

    results = await asyncio.gather(*(one() for _ in range(20)))
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 1
    winners = {r["id"] for status, r in results if status == 201}
    assert len(winners) == 1
    assert all(status == 201 or r["code"] == "idempotency_in_progress" for status, r in results)
    # Once finished, every retry gets the first answer.
    status, again = await one()
    assert status == 201 and again["id"] in winners
    assert (await world.voucher(voucher["id"]))["balance"] == 30000 - 2500


async def test_same_key_different_body_is_a_conflict(world: World,
                                                     db: asyncpg.Connection[Any]) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    key = new_key()
    first = {"token": voucher["token"], "basket": basket(("food", 1, 2500))}
    resp = await world.client.post("/v1/redemptions", json=first, headers=shop.headers(key))
    assert resp.status == 201
    second = {"token": voucher["token"], "basket": basket(("food", 1, 9900))}
    resp = await world.client.post("/v1/redemptions", json=second, headers=shop.headers(key))
    assert resp.status == 422
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["code"] == "idempotency_conflict"
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 1


async def test_missing_idempotency_key(world: World, db: asyncpg.Connection[Any]) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "basket": basket(("food", 1, 100))},
        headers=shop.headers())
    assert (resp.status, (await resp.json())["code"]) == (400, "idempotency_key_required")
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0


async def test_refused_request_frees_its_key(world: World) -> None:
    """A refusal writes nothing, so the same key may be used once the cashier fixes it."""
    shop = await world.shop()
    program = await world.program(restrictions=["categories"], partners=[shop],
                                  rule_settings={"categories": {"allowed": ["food"]}})
    (voucher,) = await world.issue(program)
    key = new_key()
    body = {"token": voucher["token"], "basket": basket(("tobacco", 1, 100))}
    resp = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(key))
    assert (await resp.json())["code"] == "no_eligible_lines"
    resp = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(key))
    assert (await resp.json())["code"] == "no_eligible_lines"


async def test_void_restores_value_once(world: World, db: asyncpg.Connection[Any]) -> None:
    shop = await world.shop()
    program = await world.program(uses=3, unit_price=5000, partners=[shop])
    (voucher,) = await world.issue(program)
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "basket": basket(("food", 1, 4000))},
        headers=shop.headers(new_key()))
    redemption = await resp.json()
    assert (redemption["balance_after"], redemption["uses_left"]) == (11000, 2)

    key = new_key()
    path = f"/v1/redemptions/{redemption['id']}/void"
    resp = await world.client.post(path, headers=shop.headers(key))
    voided = await resp.json()
    assert resp.status == 200, voided
    assert (voided["restored"], voided["balance_after"], voided["uses_left"]) == (4000, 15000, 3)
    # The same void retried: the same answer, nothing restored twice.
    resp = await world.client.post(path, headers=shop.headers(key))
    assert resp.status == 200 and (await resp.json()) == voided
    # A second void: refused.
    resp = await world.client.post(path, headers=shop.headers(new_key()))
    assert (resp.status, (await resp.json())["code"]) == (409, "already_voided")
    v = await world.voucher(voucher["id"])
    assert (v["balance"], v["uses_left"]) == (15000, 3)
    resp = await world.client.get(f"/v1/redemptions/{redemption['id']}", headers=shop.headers())
    assert (await resp.json())["status"] == "voided"
    assert all(check.ok for check in await verify_ledger(db))


async def test_void_window_closed(world: World, db: asyncpg.Connection[Any]) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "basket": basket(("food", 1, 4000))},
        headers=shop.headers(new_key()))
    redemption = await resp.json()
    await db.execute("UPDATE redemptions SET created_at = now() - interval '2 hours' "
                     "WHERE id = $1", redemption["id"])
    resp = await world.client.post(f"/v1/redemptions/{redemption['id']}/void",
                                   headers=shop.headers(new_key()))
    assert (resp.status, (await resp.json())["code"]) == (409, "void_window_closed")
    assert (await world.voucher(voucher["id"]))["balance"] == 26000


async def test_a_till_sees_only_its_merchants_redemptions(world: World) -> None:
    a, b = await world.shop("A"), await world.shop("B")
    program = await world.program(partners=[a, b])
    (voucher,) = await world.issue(program)
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "basket": basket(("food", 1, 100))},
        headers=a.headers(new_key()))
    redemption = await resp.json()
    resp = await world.client.get(f"/v1/redemptions/{redemption['id']}", headers=a.headers())
    assert resp.status == 200 and (await resp.json())["lines"][0]["sku"] == "SKU-0"
    resp = await world.client.get(f"/v1/redemptions/{redemption['id']}", headers=b.headers())
    assert (resp.status, (await resp.json())["code"]) == (404, "not_found")
    resp = await world.client.post(f"/v1/redemptions/{redemption['id']}/void",
                                   headers=b.headers(new_key()))
    assert (resp.status, (await resp.json())["code"]) == (404, "not_found")
    assert (await world.voucher(voucher["id"]))["balance"] == 29900


async def test_running_key_is_409_and_a_dead_holders_key_is_taken_over(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    from pos.api.requests import RedemptionIn
    from pos.till.engine import request_hash

    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    body = {"token": voucher["token"], "basket": basket(("food", 1, 700))}
    digest = request_hash("/v1/redemptions", RedemptionIn.model_validate(body).model_dump(
        mode="json"))
    key = new_key()
    # Another process holds the key and is still working on it.
    await db.execute(
        "INSERT INTO idempotency_keys (till_id, key, request_hash, owner, status, lease_until) "
        "VALUES ($1, $2, $3, gen_random_uuid(), 'running', now() + interval '1 minute')",
        shop.till_id, key, digest)
    resp = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(key))
    assert (resp.status, (await resp.json())["code"]) == (409, "idempotency_in_progress")
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0
    # That process died: once its lease has run out, a retry takes the key over, once.
    await db.execute("UPDATE idempotency_keys SET lease_until = now() - interval '1 second'")
    resp = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(key))
    assert resp.status == 201
    resp = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(key))
    assert resp.status == 201
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 1


async def test_a_reissue_between_check_and_redemption_wins(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    """pos_redeem re-checks the token generation under the voucher's lock: a redemption
    checked against the old token must not go through once the voucher was reissued."""
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    iat = await db.fetchval("SELECT token_iat FROM vouchers WHERE id = $1", voucher["id"])
    await db.execute("UPDATE vouchers SET token_iat = token_iat + 1 WHERE id = $1",
                     voucher["id"])
    outcome = await db.fetchval(
        "SELECT pos_redeem(gen_random_uuid(), $1, $2, $3, 'k', gen_random_uuid(), 'CNY', "
        "1000, 1000, 1000, NULL, 'cash', '[]'::jsonb, '{}'::jsonb, $4)",
        voucher["id"], shop.merchant_id, shop.till_id, iat)
    assert json.loads(outcome) == {"outcome": "voucher_revoked"}
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0


async def test_idempotency_records_are_pruned_after_their_retention(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    """A week answers any retry; older finished records, and claims whose holder died long
    ago, are forgotten by the background loop's hourly pruning."""
    from pos.api.state import SERVICES
    from pos.events.background import KEEP_IDEMPOTENCY_DAYS, prune

    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    body = {"token": voucher["token"], "basket": basket(("food", 1, 100))}
    keys = [new_key() for _ in range(2)]
    for key in keys:
        resp = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(key))
        assert resp.status == 201
    await db.execute(
        "INSERT INTO idempotency_keys (till_id, key, request_hash, owner, status, lease_until, "
        "created_at) VALUES ($1, 'dead', '\\x00', gen_random_uuid(), 'running', "
        "now() - interval '8 days', now() - interval '8 days'), "
        "($1, 'still-held', '\\x00', gen_random_uuid(), 'running', now() + interval '1 minute', "
        "now() - interval '8 days')", shop.till_id)
    await db.execute("UPDATE idempotency_keys SET created_at = now() - make_interval(days => $1) "
                     "- interval '1 hour' WHERE key = $2", KEEP_IDEMPOTENCY_DAYS, keys[0])
    app: web.Application = world.client.app
    await prune(app[SERVICES])
    left = {r["key"] for r in await db.fetch("SELECT key FROM idempotency_keys")}
    assert left == {keys[1], "still-held"}
