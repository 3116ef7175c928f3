"""The ten seed programs of SCENARIOS.md, each lived through the real HTTP API and the real
PostgreSQL as its people live it: the officer sets it up, the holder comes back the same
day and the next, the cashier sees what the voucher covers and what is left to pay.

"The next day" is reached by moving the voucher's past redemptions back a day in the
database (`visits_were_days_ago`); every limit is counted in the program's local time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from pos.vouchers import lifecycle
from tests.conftest import ADMIN, World, basket
from tests.issuance_support import exported, upload
from tests.scenarios.till_steps import (
    at_once,
    counted,
    days_later,
    local_today,
    quote,
    redeem,
    visits_were_days_ago,
    void,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
VALID_ISBN = "9780306406157"
WRONG_ISBN = "9780306406158"


async def _issue(world: World, program: str, *entries: dict[str, str],
                 status: int = 201) -> Any:
    data = await world.post(f"/v1/programs/{program}/vouchers",
                            {"beneficiaries": list(entries)}, status=status)
    return data["vouchers"] if status == 201 else data


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(SHANGHAI)


# 1 -------------------------------------------------------------------------------------------
async def test_wish_voucher(world: World, db: asyncpg.Connection[Any]) -> None:
    """300 per child, at most 100 per shop visit, daily goods, sports and study supplies."""
    stationery = await world.shop("Township stationery")
    sports = await world.shop("County sports shop")
    program = await world.program(
        name="Wish voucher", restrictions=["categories"], face_value=30000,
        per_visit_cap=10000, rule_settings={"categories": {"allowed": [
            "stationery", "school_bags", "sports_goods", "household", "toiletries"]}},
        partners=[stationery, sports])
    (voucher,) = await _issue(world, program, {"ref": "child-0417"})
    token = {"token": voucher["token"]}
    pens = basket(("stationery", 1, 13000))

    status, q = await quote(world, stationery, token, pens)
    assert (status, q["covered"], q["remainder"]) == (200, 10000, 3000)
    status, first = await redeem(world, stationery, token, pens)
    assert (status, first["covered"], first["remainder"], first["balance_after"]) == (
        201, 10000, 3000, 20000)

    # A second visit to the same shop on the same day: nothing more today, and when.
    for step in (quote, redeem):
        status, refused = await step(world, stationery, token, pens)
        assert (status, refused["code"]) == (422, "limit_reached"), refused
        assert refused["resets_at"].startswith(days_later(local_today(), 1) + "T00:00")
        assert "起再用" in refused["detail"]  # the tablet speaks Chinese by default

    # Another shop the same day is another visit; its 100 may be spent in two baskets.
    status, ball = await redeem(world, sports, token, basket(("sports_goods", 1, 6000)))
    assert (status, ball["covered"], ball["balance_after"]) == (201, 6000, 14000)
    status, q = await quote(world, sports, token, basket(("sports_goods", 1, 6000)))
    assert (status, q["limit_left"], q["covered"]) == (200, 4000, 4000)
    status, more = await redeem(world, sports, token, basket(("sports_goods", 1, 6000)))
    assert (status, more["covered"], more["remainder"], more["balance_after"]) == (
        201, 4000, 2000, 10000)

    # A cancelled sale gives its share of the visit back.
    status, voided = await void(world, stationery, first["id"])
    assert (status, voided["restored"]) == (200, 10000)
    status, r = await redeem(world, stationery, token, basket(("stationery", 1, 5000)))
    assert (status, r["covered"], r["balance_after"]) == (201, 5000, 15000)

    # The next day, each shop pays up to 100 again, until the 300 are spent.
    await visits_were_days_ago(db, voucher["id"], 1)
    status, r = await redeem(world, stationery, token, pens)
    assert (status, r["covered"], r["balance_after"]) == (201, 10000, 5000)
    status, r = await redeem(world, sports, token, basket(("sports_goods", 1, 13000)))
    assert (status, r["covered"], r["remainder"], r["balance_after"]) == (201, 5000, 8000, 0)
    status, r = await redeem(world, stationery, token, pens)
    assert (status, r["code"]) == (409, "voucher_exhausted")


# 2 -------------------------------------------------------------------------------------------
async def test_nutrition_growth_voucher(world: World) -> None:
    """Two vouchers of 150 per child, designated outlets only, milk and milk powder."""
    outlet = await world.shop("Designated dairy outlet")
    corner = await world.shop("Corner shop")
    program = await world.program(
        name="Nutrition growth voucher", restrictions=["nutrition"], face_value=15000,
        rule_settings={"nutrition": {"only": ["milk", "milk_powder", "dairy"]}},
        partners=[outlet])
    first, second = await _issue(world, program, {"ref": "child-0001", "grant": "first"},
                                 {"ref": "child-0001", "grant": "second"})
    assert first["id"] != second["id"] and (first["grant"], second["grant"]) == (
        "first", "second")
    refused = await _issue(world, program, {"ref": "child-0001", "grant": "second"},
                           status=409)
    assert refused["code"] == "already_issued"
    # The next children come as a list with a grant column: two rows each.
    status, batch = await upload(world.client, program, (
        b"ref,grant\nchild-0002,first\nchild-0002,second\nchild-0003,first\n"
        b"child-0003,second\n"))
    assert (status, batch["voucher_count"]) == (201, 4), batch
    printed = await exported(world.client, batch["id"])
    assert [(row["ref"], row["grant"]) for row in printed] == [
        ("child-0002", "first"), ("child-0002", "second"), ("child-0003", "first"),
        ("child-0003", "second")]

    milk_and_sweets = basket(("milk", 2, 1500), ("sweets", 1, 800))
    status, r = await redeem(world, outlet, {"code": first["code"]}, milk_and_sweets)
    assert (status, r["covered"], r["remainder"], r["balance_after"]) == (201, 3000, 800, 12000)
    milk, sweets = r["lines"]
    assert milk["eligible"] and not sweets["eligible"]
    # The tablet speaks Chinese by default: the reason names the category by its label.
    assert sweets["reason_code"] and "糖果甜点" in sweets["reason"], sweets
    resp = await world.client.post("/v1/quotes", json={"code": first["code"],
                                                       "basket": milk_and_sweets},
                                   headers={**outlet.headers(), "Accept-Language": "en"})
    english = (await resp.json())["lines"][1]
    assert english["reason_code"] == sweets["reason_code"]
    assert "sweets" in english["reason"], english
    assert (await world.voucher(second["id"]))["balance"] == 15000

    status, r = await redeem(world, corner, {"token": second["token"]},
                             basket(("milk", 1, 1500)))
    assert (status, r["code"]) == (403, "merchant_not_accepted")


# 3 -------------------------------------------------------------------------------------------
async def test_quality_growth_voucher(world: World) -> None:
    """8 self-chosen course sessions, counted in uses; the provider is paid per session."""
    studio = await world.shop("Pottery studio")
    program = await world.program(
        name="Quality growth voucher", restrictions=["categories"], uses=8, unit_price=6000,
        rule_settings={"categories": {"allowed": ["courses"]}}, partners=[studio])
    (voucher,) = await _issue(world, program, {"ref": "child-0815"})
    token = {"token": voucher["token"]}

    two_sessions = basket(("courses", 2, 8000))
    status, q = await quote(world, studio, token, two_sessions)
    assert status == 200, q
    assert (q["sessions_used"], q["sessions_left"], q["covered"], q["remainder"]) == (
        2, 6, 12000, 4000)
    assert q["voucher"]["sessions_left"] == 8 and "balance" not in q["voucher"]
    status, r = await redeem(world, studio, token, two_sessions)
    assert (status, r["sessions_used"], r["sessions_left"], r["covered"]) == (201, 2, 6, 12000)

    status, r = await redeem(world, studio, token, basket(("courses", 1, 5000)))
    assert (status, r["sessions_used"], r["sessions_left"], r["covered"]) == (201, 1, 5, 5000)

    # Seven sessions in one basket: the five left are paid, the other two are not.
    status, r = await redeem(world, studio, token, basket(("courses", 7, 6000)))
    assert (status, r["sessions_used"], r["sessions_left"], r["covered"], r["remainder"]) == (
        201, 5, 0, 30000, 12000)
    status, v = await void(world, studio, r["id"])
    assert (status, v["sessions_restored"], v["sessions_left"]) == (200, 5, 5)
    status, r = await redeem(world, studio, token, basket(("courses", 5, 6000)))
    assert (status, r["sessions_used"], r["sessions_left"]) == (201, 5, 0)
    status, r = await redeem(world, studio, token, basket(("courses", 1, 6000)))
    assert (status, r["code"]) == (409, "voucher_exhausted")


# 4 -------------------------------------------------------------------------------------------
async def test_book_voucher(world: World) -> None:
    """Books only; a reading goal reached brings a new book voucher to the same child."""
    bookshop = await world.shop("Xinhua bookshop")
    program = await world.program(name="Book voucher", restrictions=["books"],
                                  face_value=10000, partners=[bookshop])
    (voucher,) = await _issue(world, program, {"ref": "reader-17", "grant": "book-1"})
    code = {"code": voucher["code"]}
    book = {"sku": "B1", "gtin": VALID_ISBN, "category": "books",
            "description": "Picture book", "quantity": 1, "unit_price": 4500}
    status, r = await redeem(world, bookshop, code, basket(book, ("toys", 1, 3000)))
    assert (status, r["covered"], r["remainder"], r["balance_after"]) == (201, 4500, 3000, 5500)
    assert [line["eligible"] for line in r["lines"]] == [True, False]

    # A barcode that is not an ISBN is not a book, whatever the till calls it.
    status, r = await redeem(world, bookshop, code, basket({**book, "gtin": WRONG_ISBN}))
    assert (status, r["code"]) == (422, "no_eligible_lines")

    (goal,) = await _issue(world, program, {"ref": "reader-17", "grant": "reading-goal-1"})
    assert goal["id"] != voucher["id"]
    assert (await world.voucher(goal["id"]))["balance"] == 10000
    assert (await world.voucher(voucher["id"]))["balance"] == 5500


# 5 -------------------------------------------------------------------------------------------
async def test_nutrition_care_voucher(world: World, db: asyncpg.Connection[Any]) -> None:
    """300 a month, January to December, food and ingredients at designated supermarkets."""
    supermarket = await world.shop("Designated supermarket")
    year = local_today().year
    program = await world.program(
        name="Nutrition care voucher", restrictions=["nutrition"],
        allowance={"amount": 30000, "count": 12}, valid_from=f"{year}-01-01",
        valid_until=f"{year}-12-31", partners=[supermarket])
    (voucher,) = await _issue(world, program, {"ref": "patient-0042"})

    credits = (await world.voucher(voucher["id"]))["credits"]
    assert len(credits) == 12  # December included
    for month, credit in enumerate(credits, start=1):
        start, end = _local(credit["valid_from"]), _local(credit["valid_until"])
        assert (start.year, start.month, start.day, start.hour) == (year, month, 1, 0)
        assert (end.day, end.hour, end.month) == (1, 0, month % 12 + 1)
    assert _local(credits[-1]["valid_until"]).year == year + 1  # the year ends at midnight

    # `pos expire` books the months that are over, never the one running.
    await lifecycle.expire(db)
    assert (await world.voucher(voucher["id"]))["balance"] == 30000

    food = {"token": voucher["token"]}
    status, r = await redeem(world, supermarket, food, basket(("grains", 1, 25000)))
    assert (status, r["covered"], r["balance_after"]) == (201, 25000, 5000)
    status, r = await redeem(world, supermarket, food, basket(("meat_fish", 1, 10000)))
    assert (status, r["covered"], r["remainder"], r["balance_after"]) == (201, 5000, 5000, 0)
    # This month is spent; next month's 300 starts at local midnight on the 1st.
    status, r = await redeem(world, supermarket, food, basket(("eggs", 1, 1000)))
    assert (status, r["code"]) == (409, "voucher_exhausted")


# 6 -------------------------------------------------------------------------------------------
async def test_autism_friendly_voucher(world: World) -> None:
    """500 per household, for goods and services of partner merchants."""
    bakery = await world.shop("Inclusive bakery")
    swim = await world.shop("Swimming club")
    elsewhere = await world.shop("Not a partner")
    program = await world.program(name="Autism-friendly voucher", restrictions=["any"],
                                  face_value=50000, partners=[bakery, swim])
    (voucher,) = await _issue(world, program, {"ref": "household-2201"})
    await _issue(world, program, {"ref": "household-2201"}, status=409)
    token = {"token": voucher["token"]}

    status, r = await redeem(world, bakery, token, basket(("prepared_food", 2, 15000)))
    assert (status, r["covered"], r["balance_after"]) == (201, 30000, 20000)
    status, r = await redeem(world, swim, token, basket(("services", 1, 30000)))
    assert (status, r["covered"], r["remainder"], r["balance_after"]) == (201, 20000, 10000, 0)
    status, r = await redeem(world, elsewhere, token, basket(("services", 1, 100)))
    assert (status, r["code"]) == (403, "merchant_not_accepted")


# 7 -------------------------------------------------------------------------------------------
async def test_baby_voucher(world: World) -> None:
    """For families of newborns: formula, diapers, clothes, shoes and hats."""
    shop = await world.shop("Mother and baby shop")
    program = await world.program(name="Baby voucher", restrictions=["baby"],
                                  face_value=50000, partners=[shop])
    status, batch = await upload(world.client, program,
                                 b"ref\nfamily-0001\nfamily-0002\nfamily-0003\n")
    assert (status, batch["voucher_count"]) == (201, 3)
    (voucher,) = await _issue(world, program, {"ref": "family-0004"})
    status, r = await redeem(world, shop, {"code": voucher["code"]}, basket(
        ("infant_formula", 1, 20000), ("diapers", 2, 8000), ("baby_hats", 1, 3000),
        ("toys", 1, 5000)))
    assert (status, r["covered"], r["remainder"], r["balance_after"]) == (201, 39000, 5000, 11000)
    assert [line["eligible"] for line in r["lines"]] == [True, True, True, False]


# 8 -------------------------------------------------------------------------------------------
async def test_warm_winter_voucher(world: World) -> None:
    """200 per flood-affected household, for winter goods; the officer's typos are caught."""
    shop = await world.shop("Town department store")
    second = await world.shop("Village shop")
    today = local_today()
    setup = {"name": "Warm-winter voucher", "restrictions": ["categories"],
             "face_value": 20000, "valid_from": str(today),
             "valid_until": days_later(today, 90)}
    for mistake, field in (
            ({"rule_settings": {"categories": {"allowed": ["winter_clothes"]}}},
             "rule_settings.categories.allowed"),
            ({"rule_settings": {"categories": {"alowed": ["winter_goods"]}}},
             "rule_settings.categories.alowed"),
            ({"rule_settings": {"categories": {"allowed": ["winter_goods"]}},
              "per_visit_cap": 30000}, "per_visit_cap")):
        refused = await world.post("/v1/programs", {**setup, **mistake}, status=422)
        assert (refused["code"], refused["field"]) == ("validation_error", field), refused
        assert field in refused["detail"]
    program = await world.program(
        **setup, rule_settings={"categories": {"allowed": ["winter_goods"]}}, partners=[shop])
    (voucher,) = await _issue(world, program, {"ref": "household-flood-31"})

    status, r = await redeem(world, shop, {"token": voucher["token"]},
                             basket(("winter_goods", 1, 26000)))
    assert (status, r["covered"], r["remainder"], r["balance_after"]) == (201, 20000, 6000, 0)

    # The winter lasts longer: the officer extends the program and adds the village shop.
    resp = await world.client.patch(f"/v1/programs/{program}", headers=ADMIN, json={
        "by": "officer.li", "valid_until": days_later(today, 120),
        "merchant_ids": [shop.merchant_id, second.merchant_id]})
    changed = await resp.json()
    assert resp.status == 200, changed
    assert sorted(changed["merchant_ids"]) == sorted([shop.merchant_id, second.merchant_id])
    resp = await world.client.get(f"/v1/programs/{program}/changes", headers=ADMIN)
    (change,) = (await resp.json())["changes"]
    assert change["changed_by"] == "officer.li"
    assert set(change["changes"]) == {"valid_until", "merchant_ids"}
    resp = await world.client.patch(f"/v1/programs/{program}", headers=ADMIN, json={
        "by": "officer.li", "valid_until": str(today)})
    assert (resp.status, (await resp.json())["field"]) == (422, "valid_until")


# 9 -------------------------------------------------------------------------------------------
async def test_elderly_medicine_voucher(world: World) -> None:
    """A fixed monthly amount bound to an older person's account, for drugs and medical
    consumables insurance does not cover."""
    pharmacy = await world.shop("Community pharmacy")
    today = local_today()
    first_of_month = today.replace(day=1)
    program = await world.program(
        name="Elderly medicine voucher", restrictions=["medicine"],
        allowance={"amount": 10000, "count": 3}, valid_from=str(first_of_month),
        valid_until=str((first_of_month + timedelta(days=95)).replace(day=1)
                        - timedelta(days=1)), partners=[pharmacy])
    (voucher,) = await _issue(world, program, {"ref": "elder-88", "holder_ref": "account-88"})
    credits = (await world.voucher(voucher["id"]))["credits"]
    assert len(credits) == 3
    next_month = _local(credits[1]["valid_from"])
    assert (next_month.day, next_month.hour, next_month.minute) == (1, 0, 0)
    assert _local(credits[0]["valid_until"]) == next_month

    token = {"token": voucher["token"]}
    status, r = await redeem(world, pharmacy, token, basket(
        ("medicine", 1, 6000), ("medical_consumables", 1, 2000),
        ("health_supplements", 1, 5000)))
    assert (status, r["covered"], r["remainder"], r["balance_after"]) == (201, 8000, 5000, 2000)

    # The program adds "one purchase a month"; it applies from the next sale on.
    resp = await world.client.patch(f"/v1/programs/{program}", headers=ADMIN, json={
        "by": "officer.wang", "limits": [{"period": "month", "max_redemptions": 1}]})
    assert resp.status == 200, await resp.text()
    status, r = await redeem(world, pharmacy, token, basket(("medicine", 1, 1000)))
    assert (status, r["code"], r["period"]) == (422, "limit_reached", "month"), r
    assert r["resets_at"].startswith(str(next_month.date()) + "T00:00")


# 10 ------------------------------------------------------------------------------------------
async def test_elderly_meal_assistance(world: World, db: asyncpg.Connection[Any]) -> None:
    """Meals at registered canteens, the diner's identity checked, one subsidised meal a
    day across canteens."""
    north = await world.shop("North community canteen")
    south = await world.shop("South community canteen")
    program = await world.program(
        name="Elderly meal assistance", restrictions=["meals"], face_value=30000,
        per_visit_cap=1000, require_identity=True,
        limits=[{"period": "day", "max_redemptions": 1}], partners=[north, south])
    (voucher,) = await _issue(world, program, {"ref": "diner-0007"})
    card = {"code": voucher["code"]}
    lunch = basket(("meals", 1, 1500))

    status, r = await redeem(world, north, card, lunch)
    assert (status, r["code"]) == (422, "identity_check_required")
    status, meal = await redeem(world, north, card, lunch, identity_confirmed=True)
    assert (status, meal["covered"], meal["remainder"]) == (201, 1000, 500)

    # The same diner at a second canteen the same day: no second subsidised meal.
    status, r = await redeem(world, south, card, lunch, identity_confirmed=True)
    assert (status, r["code"], r["period"]) == (422, "limit_reached", "day"), r
    assert r["resets_at"].startswith(days_later(local_today(), 1) + "T00:00")
    # The canteen's tablet speaks Chinese: the sentence says when the meal is possible again.
    assert "今天" in r["detail"] and "Asia/Shanghai" in r["detail"], r
    # North cancels its sale (wrong diner): the day's meal may be served at South.
    assert (await void(world, north, meal["id"]))[0] == 200
    status, r = await redeem(world, south, card, lunch, identity_confirmed=True)
    assert (status, r["covered"]) == (201, 1000)

    # The next day both canteens scan the card at the same moment: one meal is subsidised.
    await visits_were_days_ago(db, voucher["id"], 1)
    results = await at_once(world, [(north, card, lunch), (south, card, lunch)],
                            identity_confirmed=True)
    assert counted(results) == {201: 1, 422: 1}, results
    assert (await world.voucher(voucher["id"]))["balance"] == 30000 - 2000
    paid = await db.fetchval("SELECT sum(covered) FROM redemptions WHERE voucher_id = $1 "
                             "AND status = 'captured'", voucher["id"])
    assert paid == 2000
