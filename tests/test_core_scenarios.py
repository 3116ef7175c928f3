"""The programs of SCENARIOS.md that the core expresses, end to end through the real API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg

from tests.conftest import World, basket, new_key


async def redeem(world: World, shop: Any, credential: dict[str, str], lines: dict[str, Any],
                 **extra: Any) -> tuple[int, dict[str, Any]]:
    resp = await world.client.post(
        "/v1/redemptions", json={**credential, "basket": lines, **extra},
        headers=shop.headers(new_key()))
    return resp.status, await resp.json()


async def quote(world: World, shop: Any, credential: dict[str, str], lines: dict[str, Any],
                **extra: Any) -> tuple[int, dict[str, Any]]:
    resp = await world.client.post(
        "/v1/quotes", json={**credential, "basket": lines, **extra}, headers=shop.headers())
    return resp.status, await resp.json()


async def test_wish_voucher_100_per_visit(world: World) -> None:
    shop = await world.shop("Township stationery")
    program = await world.program(
        name="Wish voucher", restrictions=["categories"], face_value=30000, per_visit_cap=10000,
        rule_settings={"categories": {"allowed": ["stationery", "sports_goods"]}},
        partners=[shop])
    (voucher,) = await world.issue(program)
    token = {"token": voucher["token"]}

    status, q = await quote(world, shop, token, basket(("stationery", 1, 13000)))
    assert status == 200
    assert (q["eligible_total"], q["covered"], q["remainder"]) == (13000, 10000, 3000)

    status, r = await redeem(world, shop, token, basket(("stationery", 1, 13000)))
    assert status == 201, r
    assert (r["covered"], r["remainder"], r["balance_after"]) == (10000, 3000, 20000)
    # "100 per visit" is per shop and local day: a second sale today is refused.
    status, r = await redeem(world, shop, token, basket(("stationery", 1, 13000)))
    assert (status, r["code"]) == (422, "limit_reached")
    assert (await world.voucher(voucher["id"]))["balance"] == 20000


async def test_nutrition_voucher_covers_milk_not_sweets(world: World) -> None:
    shop = await world.shop("Designated dairy outlet")
    program = await world.program(
        name="Nutrition growth voucher", restrictions=["categories"], face_value=15000,
        rule_settings={"categories": {"allowed": ["dairy", "food"], "denied": ["sweets"]}},
        partners=[shop])
    (voucher,) = await world.issue(program)
    status, r = await redeem(world, shop, {"code": voucher["code"]},
                             basket(("dairy", 2, 4500), ("sweets", 1, 1200)))
    assert status == 201, r
    assert (r["covered"], r["remainder"]) == (9000, 1200)
    milk, sweets = r["lines"]
    assert milk["eligible"] and milk["rule"] == "categories"
    assert not sweets["eligible"] and "sweets" in sweets["reason"]

    status, r = await redeem(world, shop, {"code": voucher["code"]}, basket(("sweets", 1, 1200)))
    assert (status, r["code"]) == (422, "no_eligible_lines")
    assert r["lines"][0]["eligible"] is False


async def test_eight_course_sessions_count_uses(world: World) -> None:
    studio = await world.shop("Pottery studio")
    program = await world.program(
        name="Quality growth voucher", restrictions=["categories"], uses=8, unit_price=6000,
        rule_settings={"categories": {"allowed": ["courses"]}}, partners=[studio])
    (voucher,) = await world.issue(program)
    token = {"token": voucher["token"]}
    assert (await world.voucher(voucher["id"]))["uses_left"] == 8

    for left in range(7, -1, -1):
        status, r = await redeem(world, studio, token, basket(("courses", 1, 8000)))
        assert status == 201, r
        assert (r["covered"], r["remainder"], r["uses_left"]) == (6000, 2000, left)
    status, r = await redeem(world, studio, token, basket(("courses", 1, 8000)))
    assert (status, r["code"]) == (409, "voucher_exhausted")


async def test_monthly_allowance_without_rollover_spends_only_this_month(world: World) -> None:
    shop = await world.shop("Designated supermarket")
    first_of_month = date.today().replace(day=1)
    three_months_ago = (first_of_month - timedelta(days=80)).replace(day=1)
    common: dict[str, Any] = dict(
        restrictions=["categories"], rule_settings={"categories": {"allowed": ["food"]}},
        valid_from=str(three_months_ago), valid_until=str(three_months_ago + timedelta(days=364)),
        partners=[shop])
    strict = await world.program(name="Nutrition care (monthly)",
                                 allowance={"amount": 30000, "count": 12, "rollover": False},
                                 **common)
    rolling = await world.program(name="Nutrition care (rollover)",
                                  allowance={"amount": 30000, "count": 12, "rollover": True},
                                  **common)
    (a,) = await world.issue(strict)
    (b,) = await world.issue(rolling)
    va, vb = await world.voucher(a["id"]), await world.voucher(b["id"])
    assert len(va["credits"]) == 12 and all(c["amount"] == 30000 for c in va["credits"])
    assert va["total_remaining"] == vb["total_remaining"] == 12 * 30000
    months_started = sum(1 for c in vb["credits"] if c["valid_from"][:10] <= str(date.today()))
    assert va["balance"] == 30000
    assert vb["balance"] == months_started * 30000

    status, r = await redeem(world, shop, {"token": a["token"]}, basket(("food", 1, 50000)))
    assert status == 201
    assert (r["covered"], r["remainder"], r["balance_after"]) == (30000, 20000, 0)
    # The oldest live credit is drawn first: with rollover, the first month's.
    status, r = await redeem(world, shop, {"token": b["token"]}, basket(("food", 1, 1000)))
    assert status == 201
    credits = (await world.voucher(b["id"]))["credits"]
    assert credits[0]["remaining"] == 29000
    assert all(c["remaining"] == 30000 for c in credits[1:])


async def test_refusals_by_state_date_place_and_currency(world: World, db: asyncpg.Connection[Any]
                                                         ) -> None:
    shop = await world.shop("Partner")
    outsider = await world.shop("Not a partner")
    program = await world.program(partners=[shop])
    v1, v2, v3 = await world.issue(program, 3)
    lines = basket(("food", 1, 1000))

    status, r = await quote(world, outsider, {"token": v1["token"]}, lines)
    assert (status, r["code"]) == (403, "merchant_not_accepted")

    status, r = await quote(world, shop, {"token": v1["token"]}, basket(("food", 1, 1000),
                                                                        currency="HKD"))
    assert (status, r["code"]) == (422, "currency_mismatch")

    resp = await world.client.post(f"/v1/vouchers/{v1['id']}/suspend", headers=world_admin())
    assert resp.status == 200
    status, r = await quote(world, shop, {"token": v1["token"]}, lines)
    assert (status, r["code"]) == (403, "voucher_suspended")
    await world.client.post(f"/v1/vouchers/{v1['id']}/resume", headers=world_admin())
    status, r = await quote(world, shop, {"token": v1["token"]}, lines)
    assert status == 200

    await world.client.post(f"/v1/vouchers/{v2['id']}/revoke", headers=world_admin())
    status, r = await redeem(world, shop, {"code": v2["code"]}, lines)
    assert (status, r["code"]) == (403, "voucher_revoked")
    resp = await world.client.post(f"/v1/vouchers/{v2['id']}/resume", headers=world_admin())
    assert (resp.status, (await resp.json())["code"]) == (409, "invalid_transition")

    # The program ended (its end date moved into the past): the manual code is refused too.
    await db.execute("UPDATE programs SET valid_from = now() - interval '10 days', "
                     "valid_until = now() - interval '1 day' WHERE id = $1", program)
    status, r = await quote(world, shop, {"code": v3["code"]}, lines)
    assert (status, r["code"]) == (403, "token_expired")


async def test_program_not_yet_valid(world: World) -> None:
    shop = await world.shop()
    tomorrow = date.today() + timedelta(days=2)
    program = await world.program(valid_from=str(tomorrow),
                                  valid_until=str(tomorrow + timedelta(days=30)),
                                  partners=[shop])
    (voucher,) = await world.issue(program)
    for credential in ({"token": voucher["token"]}, {"code": voucher["code"]}):
        status, r = await quote(world, shop, credential, basket(("food", 1, 1000)))
        assert (status, r["code"]) == (403, "token_not_yet_valid")


async def test_other_currency_program(world: World) -> None:
    shop = await world.shop("Macau partner")
    program = await world.program(currency="MOP", face_value=50000, partners=[shop])
    (voucher,) = await world.issue(program)
    status, r = await redeem(world, shop, {"token": voucher["token"]},
                             basket(("food", 3, 2500), currency="MOP"))
    assert status == 201 and r["currency"] == "MOP" and r["covered"] == 7500


async def test_partial_amount_and_too_much(world: World) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    token = {"token": voucher["token"]}
    status, r = await redeem(world, shop, token, basket(("food", 1, 5000)), amount=6000)
    assert (status, r["code"]) == (422, "amount_exceeds_coverage")
    status, r = await redeem(world, shop, token, basket(("food", 1, 5000)), amount=2000)
    assert status == 201 and (r["covered"], r["remainder"]) == (2000, 3000)


async def test_identity_check_required(world: World) -> None:
    canteen = await world.shop("Community canteen")
    program = await world.program(require_identity=True, partners=[canteen])
    (voucher,) = await world.issue(program)
    status, r = await redeem(world, canteen, {"token": voucher["token"]},
                             basket(("meals", 1, 1500)))
    assert (status, r["code"]) == (422, "identity_check_required")
    status, r = await redeem(world, canteen, {"token": voucher["token"]},
                             basket(("meals", 1, 1500)), identity_confirmed=True)
    assert status == 201


def world_admin() -> dict[str, str]:
    from tests.conftest import ADMIN

    return ADMIN
