"""A program's local time, visits and period limits, self-checking set-up and safe changes:
pure credit plans across month ends, the year end and daylight saving time, and the real
API for the rest, with concurrent tills against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from pos.api.state import SERVICES
from pos.cli.demo import BASKETS, basket_lines, load_demo
from pos.vouchers.credits import months_touched, plan_credits
from tests.conftest import ADMIN, CHINESE, ENGLISH, Shop, World, basket, new_key
from tests.scenarios.till_steps import counted, quote

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def _local_starts(plans: list[Any], zone: ZoneInfo) -> list[str]:
    return [p.valid_from.astimezone(zone).isoformat() for p in plans]


def test_a_january_to_december_program_has_twelve_local_months() -> None:
    start = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    end = datetime(2027, 1, 1, tzinfo=SHANGHAI)
    plans = plan_credits(face_value=0, valid_from=start, valid_until=end,
                         allowance_amount=30000, allowance_count=12, zone=SHANGHAI)
    assert len(plans) == 12
    assert _local_starts(plans, SHANGHAI)[:2] == ["2026-01-01T00:00:00+08:00",
                                                   "2026-02-01T00:00:00+08:00"]
    december = plans[-1]
    assert december.valid_from == datetime(2026, 12, 1, tzinfo=SHANGHAI)
    assert december.valid_until == datetime(2027, 1, 1, tzinfo=SHANGHAI)  # the year end
    # In UTC the months turn over at 16:00 the day before, never at 08:00 on the 1st.
    assert plans[1].valid_from.astimezone(ZoneInfo("UTC")).isoformat() == (
        "2026-01-31T16:00:00+00:00")
    assert all(a.valid_until == b.valid_from for a, b in itertools.pairwise(plans))


def test_months_start_mid_month_and_end_on_the_last_day() -> None:
    start = datetime(2026, 1, 31, 12, tzinfo=SHANGHAI)  # a program that starts on the 31st
    end = datetime(2026, 4, 1, tzinfo=SHANGHAI)
    plans = plan_credits(face_value=0, valid_from=start, valid_until=end,
                         allowance_amount=100, allowance_count=3, zone=SHANGHAI)
    assert [p.valid_from for p in plans] == [
        start, datetime(2026, 2, 1, tzinfo=SHANGHAI), datetime(2026, 3, 1, tzinfo=SHANGHAI)]
    assert plans[1].valid_until == datetime(2026, 3, 1, tzinfo=SHANGHAI)  # February's 28 days
    assert months_touched(start, end, SHANGHAI) == 3
    assert months_touched(start, datetime(2026, 4, 1, 0, 1, tzinfo=SHANGHAI), SHANGHAI) == 4


def test_months_keep_local_midnight_across_daylight_saving_time() -> None:
    start = datetime(2026, 2, 1, tzinfo=BERLIN)
    end = datetime(2026, 12, 1, tzinfo=BERLIN)
    plans = plan_credits(face_value=0, valid_from=start, valid_until=end,
                         allowance_amount=5000, allowance_count=10, zone=BERLIN)
    starts = _local_starts(plans, BERLIN)
    assert starts[1:3] == ["2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00"]
    assert starts[8:10] == ["2026-10-01T00:00:00+02:00", "2026-11-01T00:00:00+01:00"]
    # March has 31 days but one hour fewer: the credit ends at midnight, not at 01:00.
    assert plans[1].valid_until.astimezone(BERLIN).hour == 0


async def test_a_berlin_program_issues_credits_at_berlin_midnight(world: World) -> None:
    program = await world.post("/v1/programs", {
        "name": "Berlin allowance", "restrictions": ["any"], "time_zone": "Europe/Berlin",
        "currency": "EUR", "allowance": {"amount": 5000, "count": 12},
        "valid_from": "2026-01-01", "valid_until": "2026-12-31"})
    assert program["time_zone"] == "Europe/Berlin"
    assert program["valid_from"].startswith("2025-12-31T23:00:00")
    (voucher,) = (await world.post(f"/v1/programs/{program['id']}/vouchers",
                                   {"beneficiaries": [{"ref": "b-1"}]}))["vouchers"]
    credits = (await world.voucher(voucher["id"]))["credits"]
    local = [datetime.fromisoformat(c["valid_from"]).astimezone(BERLIN) for c in credits]
    assert len(local) == 12 and all((d.day, d.hour) == (1, 0) for d in local)
    assert {d.utcoffset().total_seconds() / 3600 for d in local} == {1.0, 2.0}  # type: ignore[union-attr]


async def test_set_up_mistakes_name_their_field(world: World) -> None:
    base = {"name": "P", "restrictions": ["categories"], "face_value": 1000,
            "valid_from": "2026-01-01", "valid_until": "2026-06-30",
            "rule_settings": {"categories": {"allowed": ["food"]}}}
    for mistake, field in (
            ({"allowance": {"amount": 100, "count": 12}}, "allowance.count"),
            ({"time_zone": "Mars/Olympus"}, "time_zone"),
            ({"rule_settings": {"categories": {"allowed": ["sweet"]}}},
             "rule_settings.categories.allowed"),
            ({"rule_settings": {"books": {"only": ["books"]}}}, "rule_settings.books"),
            ({"per_visit_cap": 1001}, "per_visit_cap"),
            ({"limits": [{"period": "day", "max_amount": 5},
                         {"period": "day", "max_redemptions": 1}]}, "limits[1]")):
        refused = await world.post("/v1/programs", {**base, **mistake}, status=422)
        assert refused.get("field") == field, (mistake, refused)
    refused = await world.post("/v1/programs", {**base, "limits": [{"period": "year"}]},
                               status=422)
    assert refused["code"] == "validation_error"
    six = await world.post("/v1/programs", {**base, "allowance": {"amount": 100, "count": 6}})
    listed = await world.client.get("/v1/programs", headers=ADMIN)
    assert six["id"] in [p["id"] for p in (await listed.json())["programs"]]


async def test_changes_apply_to_later_redemptions_and_are_recorded(world: World) -> None:
    shop = await world.shop()
    program = await world.program(per_visit_cap=5000, partners=[shop])
    (voucher,) = await world.issue(program)
    token = {"token": voucher["token"]}
    status, q = await quote(world, shop, token, basket(("food", 1, 8000)))
    assert q["covered"] == 5000
    for patch, status in (({"by": "x", "currency": "EUR"}, 422),
                          ({"by": "x", "per_visit_cap": 40000}, 422),
                          ({"per_visit_cap": 100}, 422)):
        resp = await world.client.patch(f"/v1/programs/{program}", json=patch, headers=ADMIN)
        assert resp.status == status, (patch, await resp.text())
    resp = await world.client.patch(f"/v1/programs/{program}", headers=ADMIN, json={
        "by": "officer.zhao", "per_visit_cap": 7000, "name": "Renamed"})
    body = await resp.json()
    assert (resp.status, body["per_visit_cap"], body["name"]) == (200, 7000, "Renamed")
    assert body["change"]["changes"]["per_visit_cap"] == {"from": 5000, "to": 7000}
    status, q = await quote(world, shop, token, basket(("food", 1, 8000)))
    assert q["covered"] == 7000
    resp = await world.client.patch(f"/v1/programs/{program}", headers=ADMIN, json={
        "by": "officer.zhao", "per_visit_cap": None})
    assert (await resp.json())["per_visit_cap"] is None
    resp = await world.client.get(f"/v1/programs/{program}/changes", headers=ADMIN)
    assert [c["changed_by"] for c in (await resp.json())["changes"]] == ["officer.zhao"] * 2


async def _tills(world: World, count: int) -> list[Shop]:
    return [await world.shop(f"Shop {i}") for i in range(count)]


async def test_concurrent_tills_never_pass_a_week_limit_together(
        world: World, db: asyncpg.Connection[Any]) -> None:
    shops = await _tills(world, 4)
    program = await world.program(
        face_value=30000, limits=[{"period": "week", "max_amount": 5000}], partners=shops)
    (voucher,) = await world.issue(program)

    async def sale(shop: Shop) -> tuple[int, dict[str, Any]]:
        resp = await world.client.post("/v1/redemptions", headers=shop.headers(new_key()),
                                       json={"token": voucher["token"],
                                             "basket": basket(("food", 1, 1500))})
        return resp.status, await resp.json()

    results = await asyncio.gather(*(sale(shops[i % 4]) for i in range(12)))
    assert counted(results) == {201: 4, 422: 8}, results
    assert sorted(r["covered"] for s, r in results if s == 201) == [500, 1500, 1500, 1500]
    assert all(r["code"] == "limit_reached" and r["period"] == "week"
               for s, r in results if s == 422)
    assert (await world.voucher(voucher["id"]))["balance"] == 25000
    captured = await db.fetchval(
        "SELECT sum(covered) FROM redemptions WHERE voucher_id = $1", voucher["id"])
    ledger = await db.fetchval(
        "SELECT sum(amount) FROM ledger_entries WHERE account = 'voucher' "
        "AND voucher_id = $1", voucher["id"])
    assert (captured, ledger) == (5000, 25000)


async def test_concurrent_visits_at_one_shop_share_its_cap(world: World) -> None:
    shop = await world.shop()
    program = await world.program(face_value=30000, per_visit_cap=10000, partners=[shop])
    (voucher,) = await world.issue(program)

    async def sale() -> tuple[int, dict[str, Any]]:
        resp = await world.client.post("/v1/redemptions", headers=shop.headers(new_key()),
                                       json={"code": voucher["code"],
                                             "basket": basket(("food", 1, 4000))})
        return resp.status, await resp.json()

    results = await asyncio.gather(*(sale() for _ in range(5)))
    assert counted(results) == {201: 3, 422: 2}, results
    assert sum(r["covered"] for s, r in results if s == 201) == 10000
    assert (await world.voucher(voucher["id"]))["balance"] == 20000


async def test_every_demo_basket_works_at_the_till(world: World) -> None:
    demo = await load_demo(world.client.app[SERVICES])
    secrets = {shop["merchant_id"]: shop["till_secret"] for shop in demo["merchants"].values()}
    for program, lines in BASKETS.items():
        partners = (await (await world.client.get(
            f"/v1/programs/{demo['programs'][program]}", headers=ADMIN)).json())["merchant_ids"]
        secret = secrets[partners[0]]
        for voucher in demo["vouchers"][program]:
            resp = await world.client.post(
                "/v1/quotes", json={"code": voucher["code"], "basket": lines},
                headers={"Authorization": f"Bearer {secret}"})
            answer = await resp.json()
            assert resp.status == 200 and answer["covered"] > 0, (program, answer)
            assert answer["lines"][0]["eligible"], answer
    assert len(demo["vouchers"]["nutrition"]) == 6  # two vouchers of 150 per child
    # The console's people: each signs in with the printed one-time password, which must
    # then be changed.
    assert {a["role"] for a in demo["accounts"].values()} == {"officer", "finance", "auditor"}
    for login, account in demo["accounts"].items():
        resp = await world.client.post("/admin/login", allow_redirects=False, data={
            "login": login, "password": account["one_time_password"]})
        assert (resp.status, resp.headers["Location"]) == (303, "/admin/password"), login


async def test_report_months_are_the_programs_local_months(
        world: World, db: asyncpg.Connection[Any]) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop], time_zone="Europe/Berlin")
    (voucher,) = await world.issue(program)
    resp = await world.client.post("/v1/redemptions", headers=shop.headers(new_key()), json={
        "token": voucher["token"], "basket": basket(("food", 1, 1000))})
    assert resp.status == 201
    # 20:00 UTC on 31 January is 21:00 on 31 January in Berlin (and already 1 February in
    # Shanghai, the service's zone): for this Berlin program, a January sale.
    await db.execute("UPDATE redemptions SET created_at = '2026-01-31T20:00:00+00:00'")
    resp = await world.client.get(f"/v1/programs/{program}/report", headers=ADMIN)
    report = await resp.json()
    assert resp.status == 200, report
    assert [m["month"] for m in report["by_month"]] == ["2026-01"]


def test_the_demo_prints_a_basket_per_program(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = {"vouchers": {name: [{"code": f"CODE-{name}"}] for name in BASKETS}}
    for name, value in CHINESE.items():
        monkeypatch.setenv(name, value)
    printed = basket_lines(demo)
    assert len(printed) == len(BASKETS)
    assert all(f"CODE-{name}" in line for name, line in zip(BASKETS, printed, strict=True))
    assert "券码 CODE-wish" in printed[0] and "券支付 100.00" in printed[0]
    for name, value in ENGLISH.items():
        monkeypatch.setenv(name, value)
    printed = basket_lines(demo)
    assert "code CODE-wish" in printed[0] and "voucher pays" in printed[0]


async def test_a_settlement_day_is_the_programs_local_day(
        world: World, db: asyncpg.Connection[Any]) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop], time_zone="Europe/Berlin")
    (voucher,) = await world.issue(program)
    ids = []
    for amount in (1000, 2000):
        resp = await world.client.post("/v1/redemptions", headers=shop.headers(new_key()),
                                       json={"token": voucher["token"],
                                             "basket": basket(("food", 1, amount))})
        ids.append((await resp.json())["id"])
    # 21:00 on 31 January in Berlin (already February in Shanghai), and 00:30 on 1 February.
    await db.execute("UPDATE redemptions SET created_at = $2 WHERE id = $1::uuid",
                     ids[0], datetime(2026, 1, 31, 20, tzinfo=ZoneInfo("UTC")))
    await db.execute("UPDATE redemptions SET created_at = $2 WHERE id = $1::uuid",
                     ids[1], datetime(2026, 1, 31, 23, 30, tzinfo=ZoneInfo("UTC")))
    run = await world.post("/v1/settlements", {"period_end": "2026-01-31",
                                               "program_id": program, "by": "finance.chen"})
    (batch,) = run["batches"]
    assert (batch["line_count"], batch["redemption_total"]) == (1, 1000), batch
    assert run["period_end"] == "2026-02-01T00:00:00+01:00"


async def test_the_database_is_asked_whether_it_knows_a_time_zone(
        db: asyncpg.Connection[Any]) -> None:
    from pos.storage.setup import known_time_zone

    assert await known_time_zone(db, "Europe/Berlin")
    assert not await known_time_zone(db, "Nowhere/Land")
