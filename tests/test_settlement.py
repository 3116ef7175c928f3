"""Settlement runs through the real API and database: batches per merchant, exactly once
under racing runs, voids after settlement as adjustments, the batch lifecycle."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from pos import hookimpl
from pos.plugin.types import ChannelRegistry, ChannelRequest, ChannelResult
from tests.conftest import ADMIN, World
from tests.settlement_support import act, redeem, settle, void

OFFICER = "Officer Li"


async def _two_shops_with_redemptions(world: World) -> tuple[Any, Any, str, list[dict[str, Any]]]:
    """Shop A: 3 redemptions (100 + 50 + 20.50), shop B: 1 (80)."""
    shop_a = await world.shop("阳光文具店")
    shop_b = await world.shop("Bookshop")
    program = await world.program(partners=[shop_a, shop_b], face_value=30000)
    vouchers = await world.issue(program, 4)
    made = [
        await redeem(world, shop_a, vouchers[0], ("stationery", 1, 10000)),
        await redeem(world, shop_a, vouchers[1], ("stationery", 1, 5000)),
        await redeem(world, shop_a, vouchers[2], ("food", 1, 2050)),
        await redeem(world, shop_b, vouchers[3], ("books", 1, 8000)),
    ]
    return shop_a, shop_b, program, made


async def test_a_run_makes_one_batch_per_merchant(world: World, db: asyncpg.Connection[Any]
                                                  ) -> None:
    shop_a, shop_b, _program, _ = await _two_shops_with_redemptions(world)
    run = await settle(world)
    by_merchant = {b["merchant_id"]: b for b in run["batches"]}
    assert set(by_merchant) == {shop_a.merchant_id, shop_b.merchant_id}
    a, b = by_merchant[shop_a.merchant_id], by_merchant[shop_b.merchant_id]
    assert (a["line_count"], a["redemption_total"], a["adjustment_total"], a["total"]) == (
        3, 17050, 0, 17050)
    assert (b["line_count"], b["total"], b["currency"], b["status"]) == (1, 8000, "CNY", "draft")
    assert a["merchant_name"] == "阳光文具店"
    assert a["created_by"] == OFFICER

    # The batch account now holds what the merchants' payable held.
    payable = await db.fetchval(
        "SELECT sum(amount) FROM ledger_entries WHERE account = 'merchant_payable' "
        "AND account_id = $1", shop_a.merchant_id)
    in_batch = await db.fetchval(
        "SELECT sum(amount) FROM ledger_entries WHERE account = 'settlement_batch' "
        "AND account_id = $1", a["id"])
    assert (payable, in_batch) == (0, 17050)

    again = await settle(world)
    assert again["batches"] == []


async def test_only_what_is_due_by_the_period_end(world: World,
                                                  db: asyncpg.Connection[Any]) -> None:
    shop_a, _, _, made = await _two_shops_with_redemptions(world)
    # The first redemption happened three days ago; the period ends two days ago.
    await db.execute("UPDATE redemptions SET created_at = now() - interval '3 days' "
                     "WHERE id = $1", made[0]["id"])
    end = (datetime.now(tz=UTC) - timedelta(days=2)).isoformat()
    run = await settle(world, period_end=end)
    (batch,) = run["batches"]
    assert (batch["merchant_id"], batch["line_count"], batch["total"]) == (
        shop_a.merchant_id, 1, 10000)
    later = await settle(world)
    assert sorted(b["total"] for b in later["batches"]) == [7050, 8000]


async def test_filters_by_merchant_and_program(world: World) -> None:
    shop_a, shop_b, _program, _ = await _two_shops_with_redemptions(world)
    other = await world.program(partners=[shop_a], face_value=5000, name="Other")
    (voucher,) = await world.issue(other)
    await redeem(world, shop_a, voucher, ("food", 1, 1000))

    run = await settle(world, merchant_id=shop_b.merchant_id)
    assert [(b["merchant_id"], b["total"]) for b in run["batches"]] == [
        (shop_b.merchant_id, 8000)]
    run = await settle(world, program_id=other)
    assert [(b["merchant_id"], b["total"], b["program_id"]) for b in run["batches"]] == [
        (shop_a.merchant_id, 1000, other)]
    run = await settle(world)
    assert [(b["merchant_id"], b["total"]) for b in run["batches"]] == [
        (shop_a.merchant_id, 17050)]


async def test_racing_runs_settle_each_redemption_exactly_once(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    vouchers = await world.issue(program, 20)
    for v in vouchers:
        await redeem(world, shop, v, ("food", 1, 1234))
    runs = await asyncio.gather(*(settle(world) for _ in range(8)))
    batches = [b for run in runs for b in run["batches"]]
    assert len(batches) == 1, "one of the racing runs cut the batch, the others found nothing"
    assert (batches[0]["line_count"], batches[0]["total"]) == (20, 20 * 1234)
    settled = await db.fetch("SELECT redemption_id, count(*) AS n FROM settlement_lines "
                             "GROUP BY redemption_id")
    assert len(settled) == 20 and all(r["n"] == 1 for r in settled)
    assert await db.fetchval("SELECT count(*) FROM settlement_runs") == 8


async def test_racing_runs_for_different_merchants(world: World,
                                                   db: asyncpg.Connection[Any]) -> None:
    shops = [await world.shop(f"Shop {i}") for i in range(4)]
    program = await world.program(partners=shops)
    vouchers = await world.issue(program, 12)
    for i, v in enumerate(vouchers):
        await redeem(world, shops[i % 4], v, ("food", 1, 500 + i))
    runs = await asyncio.gather(
        *(settle(world, merchant_id=s.merchant_id) for s in shops),
        *(settle(world) for _ in range(4)))
    batches = [b for run in runs for b in run["batches"]]
    assert sorted(b["merchant_id"] for b in batches) == sorted(s.merchant_id for s in shops)
    assert sum(b["total"] for b in batches) == sum(500 + i for i in range(12))
    assert await db.fetchval("SELECT count(*) FROM settlement_lines") == 12


async def test_a_void_after_settlement_is_an_adjustment_in_the_next_batch(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    shop_a, _, _, made = await _two_shops_with_redemptions(world)
    first = await settle(world, merchant_id=shop_a.merchant_id)
    (closed,) = first["batches"]
    await act(world, closed["id"], "approve")

    await void(world, shop_a, made[1]["id"])  # 50.00 voided after it was settled
    (voucher_c,) = await world.issue(await world.program(partners=[shop_a]))
    await redeem(world, shop_a, voucher_c, ("food", 1, 700))

    second = await settle(world, merchant_id=shop_a.merchant_id)
    (nxt,) = second["batches"]
    assert (nxt["line_count"], nxt["redemption_total"], nxt["adjustment_total"],
            nxt["total"]) == (2, 700, -5000, -4300)

    resp = await world.client.get(f"/v1/settlements/{closed['id']}", headers=ADMIN)
    still = await resp.json()
    assert (still["total"], still["line_count"], still["status"]) == (17050, 3, "approved")
    kinds = await db.fetch(
        "SELECT kind, amount FROM settlement_lines WHERE redemption_id = $1 ORDER BY kind",
        made[1]["id"])
    assert [(r["kind"], r["amount"]) for r in kinds] == [("adjustment", -5000),
                                                         ("redemption", 5000)]
    # Settling again adjusts nothing twice.
    assert (await settle(world))["batches"][0]["merchant_id"] != shop_a.merchant_id


async def test_a_void_before_settlement_is_never_settled(world: World) -> None:
    shop_a, _, _, made = await _two_shops_with_redemptions(world)
    await void(world, shop_a, made[0]["id"])
    run = await settle(world, merchant_id=shop_a.merchant_id)
    (batch,) = run["batches"]
    assert (batch["line_count"], batch["total"]) == (2, 7050)


async def test_lifecycle_records_who_and_when(world: World, db: asyncpg.Connection[Any]) -> None:
    shop_a, _, _, _ = await _two_shops_with_redemptions(world)
    (batch,) = (await settle(world, merchant_id=shop_a.merchant_id))["batches"]
    bid = batch["id"]

    refused = await act(world, bid, "paid", status=409)
    assert (refused["code"], refused["batch_status"]) == ("invalid_transition", "draft")
    approved = await act(world, bid, "approve", by="Director Wang")
    assert approved["status"] == "approved" and approved["approvals"] == 1
    assert (await act(world, bid, "approve", status=409))["code"] == "invalid_transition"
    failed = await act(world, bid, "failed", reason="Account closed")
    assert failed["status"] == "failed"
    await act(world, bid, "approve")
    paid = await act(world, bid, "paid", reference="BANK-REF-1")
    assert (paid["status"], paid["payout_reference"], paid["approvals"]) == (
        "paid", "BANK-REF-1", 2)
    assert [(h["status"], h["actor"], h["note"]) for h in paid["history"]] == [
        ("draft", OFFICER, None), ("approved", "Director Wang", None),
        ("failed", OFFICER, "Account closed"), ("approved", OFFICER, None),
        ("paid", OFFICER, None)]
    assert all(h["created_at"] for h in paid["history"])
    assert (await act(world, bid, "failed", reason="x", status=409))["code"] == (
        "invalid_transition")

    # Paid: the batch account is empty again and the merchant's paid-out account holds it.
    rows = await db.fetch(
        "SELECT account, sum(amount) AS total FROM ledger_entries WHERE kind = 'settle' "
        "GROUP BY account ORDER BY account")
    assert {r["account"]: r["total"] for r in rows} == {
        "merchant_payable": -17050, "paid_out": 17050, "settlement_batch": 0}
    unbalanced = await db.fetchval(
        "SELECT count(*) FROM (SELECT txn_id FROM ledger_entries WHERE kind = 'settle' "
        "GROUP BY txn_id HAVING sum(amount) <> 0) t")
    assert unbalanced == 0


async def test_two_officers_paying_at_once_pay_once(world: World,
                                                    db: asyncpg.Connection[Any]) -> None:
    shop_a, _, _, _ = await _two_shops_with_redemptions(world)
    (batch,) = (await settle(world, merchant_id=shop_a.merchant_id))["batches"]
    await act(world, batch["id"], "approve")
    answers = await asyncio.gather(*(
        world.client.post(f"/v1/settlements/{batch['id']}/paid", json={"by": f"Officer {i}"},
                          headers=ADMIN) for i in range(5)))
    assert sorted(r.status for r in answers) == [200, 409, 409, 409, 409]
    paid_out = await db.fetch("SELECT amount FROM ledger_entries WHERE account = 'paid_out'")
    assert [r["amount"] for r in paid_out] == [17050]  # one program, one entry, once


class _Bank:
    """A payment channel whose payouts succeed, or are refused, as the test says."""

    name = "test_bank"
    description = "test payouts"

    def __init__(self) -> None:
        self.ok = True
        self.hang = False
        self.requests: list[ChannelRequest] = []

    async def collect(self, request: ChannelRequest) -> ChannelResult:
        return ChannelResult(False)

    async def refund(self, request: ChannelRequest) -> ChannelResult:
        return ChannelResult(False)

    async def payout(self, request: ChannelRequest) -> ChannelResult:
        self.requests.append(request)
        if self.hang:
            raise RuntimeError("the bank's line went dead")
        if self.ok:
            return ChannelResult(True, reference=f"TB-{len(self.requests)}")
        return ChannelResult(False, message="The bank refused: account frozen.")


class _BankPlugin:
    def __init__(self, bank: _Bank) -> None:
        self.bank = bank

    @hookimpl
    def pos_register_payment_channels(self, register: ChannelRegistry, settings: Any) -> None:
        register.add(self.bank)


@pytest.fixture
def bank(temporary_plugin: Any) -> _Bank:
    """Registered before `world` builds the app, which loads its plugins at start-up."""
    test_bank = _Bank()
    temporary_plugin("test_bank", _BankPlugin(test_bank))
    return test_bank


async def test_payout_through_a_channel(bank: _Bank, world: World) -> None:
    shop_a, _, _, _ = await _two_shops_with_redemptions(world)
    (batch,) = (await settle(world, merchant_id=shop_a.merchant_id))["batches"]

    refused = await act(world, batch["id"], "payout", status=409, channel="test_bank")
    assert refused["code"] == "invalid_transition"
    await act(world, batch["id"], "approve")

    bank.hang = True
    unclear = await act(world, batch["id"], "payout", status=502, channel="test_bank")
    assert (unclear["code"], unclear["plugin"]) == ("plugin_error", "test_bank")
    resp = await world.client.get(f"/v1/settlements/{batch['id']}", headers=ADMIN)
    assert (await resp.json())["status"] == "approved"
    bank.hang = False

    bank.ok = False
    failed = await act(world, batch["id"], "payout", channel="test_bank")
    assert failed["status"] == "failed"
    assert failed["history"][-1]["note"] == "The bank refused: account frozen."

    await act(world, batch["id"], "approve")
    bank.ok = True
    paid = await act(world, batch["id"], "payout", channel="test_bank")
    assert (paid["status"], paid["payout_reference"]) == ("paid", "TB-3")
    unclear_call, declined, accepted = bank.requests
    assert (accepted.amount, accepted.currency, accepted.merchant_id) == (
        17050, "CNY", shop_a.merchant_id)
    # The same attempt keeps its key (a provider that acted pays once); a new approval
    # after a failure is a new attempt.
    assert unclear_call.idempotency_key == declined.idempotency_key
    assert declined.idempotency_key != accepted.idempotency_key

    again = await act(world, batch["id"], "payout", status=409, channel="test_bank")
    assert again["code"] == "invalid_transition"
    unknown = await act(world, batch["id"], "payout", status=422, channel="no_such_bank")
    assert unknown["code"] == "validation_error"


async def test_payout_through_the_bank_transfer_plugin(world: World) -> None:
    shop_a, _, _, _ = await _two_shops_with_redemptions(world)
    (batch,) = (await settle(world, merchant_id=shop_a.merchant_id))["batches"]
    await act(world, batch["id"], "approve")
    paid = await act(world, batch["id"], "payout", channel="bank_transfer")
    assert paid["status"] == "paid" and paid["payout_reference"].startswith("BT-")


async def test_refusals_are_problems(world: World) -> None:
    shop_a, _, _program, _ = await _two_shops_with_redemptions(world)
    future = (datetime.now(tz=UTC) + timedelta(hours=1)).isoformat()
    cases: list[tuple[str, str, Any, int, str]] = [
        ("post", "/v1/settlements", {"period_end": future, "by": OFFICER}, 422,
         "period_not_over"),
        ("post", "/v1/settlements", {"period_end": "yesterday", "by": OFFICER}, 422,
         "validation_error"),
        ("post", "/v1/settlements", {"period_end": "2026-01-01"}, 422, "validation_error"),
        ("post", "/v1/settlements", {"period_end": "2026-01-01", "by": OFFICER,
                                     "merchant_id": "00000000-0000-0000-0000-000000000000"},
         404, "not_found"),
        ("post", "/v1/settlements", {"period_end": "2026-01-01", "by": OFFICER,
                                     "program_id": "00000000-0000-0000-0000-000000000000"},
         404, "not_found"),
        ("post", "/v1/settlements", {"period_end": "2026-01-01", "by": OFFICER,
                                     "extra": 1}, 422, "validation_error"),
        ("post", "/v1/settlements", {"period_end": "9999-12-31", "by": OFFICER}, 422,
         "validation_error"),
        ("post", "/v1/settlements", {"period_end": "0001-01-01T00:00:00+08:00",
                                     "by": OFFICER}, 422, "validation_error"),
        ("post", "/v1/settlements", {"period_end": "2026-01-01", "by": OFFICER,
                                     "merchant_id": "-" * 36}, 422, "validation_error"),
        ("post", "/v1/settlements", {"period_end": "2026-01-01", "by": OFFICER,
                                     "program_id": 12}, 422, "validation_error"),
        ("get", "/v1/settlements/not-a-uuid", None, 404, "not_found"),
        ("get", "/v1/settlements/00000000-0000-0000-0000-000000000000", None, 404,
         "not_found"),
        ("get", "/v1/settlements?status=lost", None, 422, "validation_error"),
        ("get", "/v1/settlements?merchant_id=xyz", None, 422, "validation_error"),
        ("post", "/v1/settlements/00000000-0000-0000-0000-000000000000/approve",
         {"by": OFFICER}, 404, "not_found"),
        ("post", "/v1/settlements/00000000-0000-0000-0000-000000000000/failed",
         {"by": OFFICER}, 422, "validation_error"),
        ("put", f"/v1/merchants/{shop_a.merchant_id}/payout-account",
         {"account_name": "A", "account_id": "1", "agent_bic": "not a bic"}, 422,
         "validation_error"),
        ("put", "/v1/merchants/00000000-0000-0000-0000-000000000000/payout-account",
         {"account_name": "A", "account_id": "1"}, 404, "not_found"),
    ]
    for method, path, payload, status, code in cases:
        resp = await getattr(world.client, method)(path, json=payload, headers=ADMIN)
        data = await resp.json()
        assert (resp.status, data.get("code")) == (status, code), (path, payload, data)
        assert resp.content_type == "application/problem+json"

    resp = await world.client.post("/v1/settlements", json={"period_end": "2026-01-01",
                                                            "by": OFFICER})
    assert (resp.status, (await resp.json())["code"]) == (401, "unauthorized")
    resp = await world.client.post("/v1/settlements", json={"period_end": "2026-01-01",
                                                            "by": OFFICER},
                                   headers=shop_a.headers())
    assert (resp.status, (await resp.json())["code"]) == (403, "forbidden")
    # Nothing above changed anything: everything is still due.
    run = await settle(world)
    assert sum(b["line_count"] for b in run["batches"]) == 4


async def test_list_batches(world: World) -> None:
    _shop_a, shop_b, _, _ = await _two_shops_with_redemptions(world)
    run = await settle(world)
    resp = await world.client.get(f"/v1/settlements?run_id={run['run_id']}", headers=ADMIN)
    assert len((await resp.json())["batches"]) == 2
    resp = await world.client.get(
        f"/v1/settlements?merchant_id={shop_b.merchant_id}&status=draft", headers=ADMIN)
    (only,) = (await resp.json())["batches"]
    assert only["merchant_id"] == shop_b.merchant_id
    resp = await world.client.get("/v1/settlements?status=paid", headers=ADMIN)
    assert (await resp.json())["batches"] == []


async def test_settlement_routes_are_in_the_openapi_document(world: World) -> None:
    resp = await world.client.get("/v1/openapi.json")
    paths = (await resp.json())["paths"]
    for path in ("/v1/settlements", "/v1/settlements/{id}/approve",
                 "/v1/settlements/{id}/export/{format}", "/v1/merchants/{id}/payout-account"):
        assert path in paths


async def test_voids_racing_runs_net_out_exactly(world: World,
                                                 db: asyncpg.Connection[Any]) -> None:
    from pos.storage.ledger import verify_ledger
    from pos.storage.reconciliation import verify_settlements

    shop = await world.shop()
    program = await world.program(partners=[shop])
    vouchers = await world.issue(program, 24)
    made = [await redeem(world, shop, v, ("food", 1, 1000 + i)) for i, v in enumerate(vouchers)]
    voided = made[::2]
    await asyncio.gather(*(settle(world) for _ in range(3)),
                         *(void(world, shop, r["id"]) for r in voided))
    await settle(world)  # picks up whatever the racing runs saw captured and is now void

    kinds = await db.fetch("SELECT redemption_id::text, array_agg(kind ORDER BY kind) AS k "
                           "FROM settlement_lines GROUP BY redemption_id")
    by_id = {r["redemption_id"]: list(r["k"]) for r in kinds}
    for r in made:
        if r in voided:
            # Settled before its void (then adjusted), or voided before any run took it.
            assert by_id.get(r["id"], []) in ([], ["adjustment", "redemption"]), by_id.get(r["id"])
        else:
            assert by_id[r["id"]] == ["redemption"]
    net = await db.fetchval("SELECT sum(total) FROM settlement_batches")
    assert net == sum(r["covered"] for r in made if r not in voided)
    failed = [c for c in [*await verify_ledger(db), *await verify_settlements(db)] if not c.ok]
    assert failed == []


async def test_one_batch_per_currency(world: World) -> None:
    shop = await world.shop("Border shop")
    yuan = await world.program(partners=[shop], currency="CNY")
    yen = await world.program(partners=[shop], currency="JPY", name="Yen program")
    (v1,) = await world.issue(yuan)
    (v2,) = await world.issue(yen)
    await redeem(world, shop, v1, ("food", 1, 1250))
    await redeem(world, shop, v2, ("food", 1, 800), currency="JPY")
    run = await settle(world)
    assert sorted((b["currency"], b["total"], b["merchant_id"]) for b in run["batches"]) == [
        ("CNY", 1250, shop.merchant_id), ("JPY", 800, shop.merchant_id)]
