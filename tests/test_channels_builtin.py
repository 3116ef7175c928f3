"""The built-in channels that call no provider: `cash` (the remainder is paid at the till,
recorded with the redemption) and `bank_transfer` (merchant payouts through settlement
files; it cannot take a remainder at the till)."""

from __future__ import annotations

from typing import Any

from pos.api.state import SERVICES
from pos.plugin.types import ChannelRequest
from tests.conftest import World, basket, new_key


async def test_cash_remainder_recorded_and_given_back_on_void(world: World) -> None:
    shop = await world.shop()
    program = await world.program(restrictions=["any"], face_value=10000, partners=[shop])
    (voucher,) = await world.issue(program)
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"],
                                 "basket": basket(("household", 1, 13000))},
        headers=shop.headers(new_key()))
    data = await resp.json()
    assert resp.status == 201, data
    assert (data["channel"], data["covered"], data["remainder"]) == ("cash", 10000, 3000)
    assert data["payment"]["status"] == "collected"
    assert data["payment"]["message"] == "Collect the remainder in cash."
    pool = world.client.app[SERVICES].pool
    # Nothing to reconcile for cash: no journal row.
    assert await pool.fetchval("SELECT count(*) FROM channel_payments") == 0
    stored = await (await world.client.get(f"/v1/redemptions/{data['id']}",
                                           headers=shop.headers())).json()
    assert (stored["channel"], stored["remainder"]) == ("cash", 3000)

    resp = await world.client.post(f"/v1/redemptions/{data['id']}/void",
                                   headers=shop.headers(new_key()))
    voided = await resp.json()
    assert resp.status == 200, voided
    assert voided["payment"] == {"channel": "cash", "amount": 3000, "status": "refunded"}


async def test_fully_covered_basket_calls_no_channel(world: World) -> None:
    shop = await world.shop()
    program = await world.program(restrictions=["any"], partners=[shop])
    (voucher,) = await world.issue(program)
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"],
                                 "basket": basket(("household", 1, 500))},
        headers=shop.headers(new_key()))
    data = await resp.json()
    assert resp.status == 201 and data["remainder"] == 0 and data["payment"] is None


async def test_bank_transfer_pays_merchants_not_tills(world: World) -> None:
    shop = await world.shop()
    program = await world.program(restrictions=["any"], face_value=10000,
                                  channels=["cash", "bank_transfer"], partners=[shop])
    (voucher,) = await world.issue(program)
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "channel": "bank_transfer",
                                 "basket": basket(("household", 1, 13000))},
        headers=shop.headers(new_key()))
    problem = await resp.json()
    assert (resp.status, problem["code"]) == (402, "payment_declined")
    assert problem["payment"] == {"channel": "bank_transfer", "status": "not_taken"}
    assert (await world.voucher(voucher["id"]))["balance"] == 10000

    plugins = world.client.app[SERVICES].plugins
    request = ChannelRequest(channel="bank_transfer", amount=120000, currency="CNY",
                             idempotency_key="batch-7", merchant_id=shop.merchant_id)
    first = await plugins.call_channel("bank_transfer", "payout", request)
    again = await plugins.call_channel("bank_transfer", "payout", request)
    assert first.state == "ok" and first.reference is not None
    assert first.reference == again.reference  # the same instruction, recognisably
    no_merchant: Any = ChannelRequest(channel="bank_transfer", amount=1, currency="CNY",
                                      idempotency_key="x")
    assert (await plugins.call_channel("bank_transfer", "payout", no_merchant)).state == \
        "declined"
    cash = await plugins.call_channel("cash", "payout", request)
    assert cash.state == "declined"
