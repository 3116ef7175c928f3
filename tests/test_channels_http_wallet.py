"""`http_wallet` against a fake provider on loopback that can be slow, fail, time out,
refuse, and send duplicate webhooks. Whatever it does, a redemption is never half-done:
the voucher part and the remainder both stand, or neither does, and the till is told which.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pos.api.state import SERVICES
from pos.config import Config
from pos.plugin.types import ChannelRequest
from pos.service.services import Services
from pos.till import channel_payments
from tests.conftest import Shop, World, basket, make_config, new_key

SECRET = "wallet_request_secret"
WEBHOOK_SECRET = "wallet_webhook_secret"
TIMEOUT = 0.3


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class FakeWallet:
    """A wallet provider. `script` says what the next requests meet: "ok", "fail" (500),
    "decline" (402), "slow" (answers after 0.1 s), "timeout" (does the work, then answers
    too late for the client)."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.payments: dict[str, dict[str, Any]] = {}   # by idempotency key
        self.refunds: dict[str, dict[str, Any]] = {}    # by idempotency key
        self.reversed_keys: set[str] = set()            # payment keys reversed
        self.on_payment: Callable[[], Awaitable[None]] | None = None
        self.bad_signatures = 0

    def net(self) -> int:
        """What the provider holds from holders now."""
        return sum(p["amount"] for key, p in self.payments.items()
                   if key not in self.reversed_keys)

    async def _start(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        body = await request.read()
        headers = dict(request.headers)
        self.requests.append((request.path, headers, body))
        given = headers.get("X-Signature", "")
        if not hmac.compare_digest(sign(SECRET, int(headers.get("X-Timestamp", "0")), body),
                                   given):
            self.bad_signatures += 1
            raise web.HTTPUnauthorized()
        behaviour = self.script.pop(0) if self.script else "ok"
        if behaviour == "fail":
            raise web.HTTPInternalServerError()
        if behaviour == "slow":
            await asyncio.sleep(0.1)
        return behaviour, json.loads(body)

    async def payment(self, request: web.Request) -> web.Response:
        behaviour, body = await self._start(request)
        key = request.headers["Idempotency-Key"]
        if behaviour == "decline":
            return web.json_response({"message": "insufficient funds"}, status=402)
        if key in self.reversed_keys and key not in self.payments:
            return web.json_response({"message": "reversed"}, status=410)
        if key not in self.payments:
            self.payments[key] = {"id": f"pay_{uuid.uuid4().hex[:10]}",
                                  "amount": body["amount"]}
            if self.on_payment is not None:
                await self.on_payment()
        if behaviour == "timeout":
            await asyncio.sleep(TIMEOUT * 3)
        return web.json_response({"id": self.payments[key]["id"]}, status=201)

    async def refund(self, request: web.Request) -> web.Response:
        behaviour, body = await self._start(request)
        key = request.headers["Idempotency-Key"]
        if key not in self.refunds:
            # Reverse the payment made with that key, or make sure it never happens.
            self.refunds[key] = {"id": f"rf_{uuid.uuid4().hex[:10]}",
                                 "payment_key": body["payment_key"]}
            self.reversed_keys.add(body["payment_key"])
        if behaviour == "timeout":
            await asyncio.sleep(TIMEOUT * 3)
        return web.json_response({"id": self.refunds[key]["id"]})

    async def payout(self, request: web.Request) -> web.Response:
        _, body = await self._start(request)
        if not body.get("merchant_id"):
            return web.json_response({"message": "no payee"}, status=422)
        return web.json_response({"id": "po_" + request.headers["Idempotency-Key"]})

    def collects(self) -> list[dict[str, str]]:
        return [h for path, h, _ in self.requests if path == "/v1/payments"]


@pytest.fixture
async def wallet() -> AsyncIterator[tuple[FakeWallet, str]]:
    fake = FakeWallet()
    app = web.Application()
    app.router.add_post("/v1/payments", fake.payment)
    app.router.add_post("/v1/refunds", fake.refund)
    app.router.add_post("/v1/payouts", fake.payout)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
def config(wallet: tuple[FakeWallet, str], database_url: str, tmp_path: Path) -> Config:
    return make_config(
        database_url, tmp_path / "data",
        POS_PLUGINS_HTTP_WALLET_BASE_URL=wallet[1], POS_PLUGINS_HTTP_WALLET_SECRET=SECRET,
        POS_PLUGINS_HTTP_WALLET_WEBHOOK_SECRET=WEBHOOK_SECRET,
        POS_PLUGINS_HTTP_WALLET_TIMEOUT_SECONDS=str(TIMEOUT),
        POS_PLUGINS_HTTP_WALLET_MAX_ATTEMPTS="3",
        POS_PLUGINS_HTTP_WALLET_BACKOFF_SECONDS="0.01",
        POS_PLUGINS_EVENT_POLL_SECONDS="3600",  # the tests run the background work
        POS_PLUGINS_EVENT_RETRY_SECONDS="0.01")


def fake(wallet: tuple[FakeWallet, str]) -> FakeWallet:
    return wallet[0]


def services_of(world: World) -> Services:
    app: web.Application = world.client.app
    return app[SERVICES]


async def scalar(world: World, query: str, *args: Any) -> Any:
    pool: asyncpg.Pool[Any] = services_of(world).pool
    return await pool.fetchval(query, *args)


async def wish_voucher(world: World) -> tuple[Shop, dict[str, str]]:
    """The wish voucher: 300 in all, 100 a visit; a 130 basket leaves 30 to the wallet."""
    shop = await world.shop()
    program = await world.program(restrictions=["any"], face_value=30000,
                                  per_visit_cap=10000, channels=["cash", "http_wallet"],
                                  partners=[shop])
    (voucher,) = await world.issue(program)
    return shop, voucher


async def redeem(world: World, shop: Shop, voucher: dict[str, str], key: str | None = None
                 ) -> tuple[int, dict[str, Any]]:
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "channel": "http_wallet",
                                 "basket": basket(("stationery", 1, 13000))},
        headers=shop.headers(key or new_key()))
    assert resp.content_type in ("application/json", "application/problem+json")
    return resp.status, await resp.json()


async def assert_nothing_stands(world: World, voucher: dict[str, str], w: FakeWallet) -> None:
    assert await scalar(world, "SELECT count(*) FROM redemptions") == 0
    assert (await world.voucher(voucher["id"]))["balance"] == 30000
    assert w.net() == 0


async def test_the_remainder_goes_through_the_wallet(wallet: Any, world: World) -> None:
    w = fake(wallet)
    shop, voucher = await wish_voucher(world)
    status, data = await redeem(world, shop, voucher)
    assert status == 201, data
    assert (data["covered"], data["remainder"], data["balance_after"]) == (10000, 3000, 20000)
    (payment,) = w.payments.values()
    assert payment["amount"] == 3000
    assert data["payment"] == {"channel": "http_wallet", "amount": 3000, "status": "collected",
                               "reference": payment["id"], "message": ""}
    row = await services_of(world).pool.fetchrow(
        "SELECT status, redemption_id::text, reference FROM channel_payments")
    assert row is not None
    assert (row["status"], row["redemption_id"], row["reference"]) == \
        ("bound", data["id"], payment["id"])
    assert w.bad_signatures == 0
    ((headers),) = w.collects()
    assert headers["Idempotency-Key"].startswith("pos-")


async def test_failures_are_retried_with_the_same_key(wallet: Any, world: World) -> None:
    w = fake(wallet)
    w.script = ["fail", "fail", "slow"]
    shop, voucher = await wish_voucher(world)
    status, data = await redeem(world, shop, voucher)
    assert status == 201, data
    keys = {h["Idempotency-Key"] for h in w.collects()}
    assert len(w.collects()) == 3 and len(keys) == 1 and len(w.payments) == 1
    assert w.bad_signatures == 0 and w.net() == 3000


async def test_provider_down_nothing_stands(wallet: Any, world: World) -> None:
    w = fake(wallet)
    w.script = ["fail", "fail", "fail"]
    shop, voucher = await wish_voucher(world)
    status, problem = await redeem(world, shop, voucher)
    assert (status, problem["code"]) == (502, "payment_failed")
    assert problem["redeemed"] is False
    assert problem["payment"] == {"channel": "http_wallet", "status": "reversed"}
    assert len(w.collects()) == 3  # bounded
    await assert_nothing_stands(world, voucher, w)
    assert await scalar(world, "SELECT status FROM channel_payments") == "refunded"


async def test_answer_lost_after_the_money_moved(wallet: Any, world: World) -> None:
    w = fake(wallet)
    w.script = ["timeout", "timeout", "timeout"]
    shop, voucher = await wish_voucher(world)
    status, problem = await redeem(world, shop, voucher)
    assert (status, problem["code"]) == (502, "payment_failed")
    assert problem["payment"]["status"] == "reversed"
    assert len(w.payments) == 1  # the provider did take it, once, and gave it back
    await assert_nothing_stands(world, voucher, w)


async def test_declined_nothing_taken(wallet: Any, world: World) -> None:
    w = fake(wallet)
    w.script = ["decline"]
    shop, voucher = await wish_voucher(world)
    status, problem = await redeem(world, shop, voucher)
    assert (status, problem["code"]) == (402, "payment_declined")
    assert "insufficient funds" in problem["detail"]
    assert problem["payment"] == {"channel": "http_wallet", "status": "not_taken"}
    assert w.refunds == {}
    await assert_nothing_stands(world, voucher, w)
    # The cashier takes another payment: the same sale in cash goes through.
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "channel": "cash",
                                 "basket": basket(("stationery", 1, 13000))},
        headers=shop.headers(new_key()))
    data = await resp.json()
    assert resp.status == 201, data
    assert data["payment"]["channel"] == "cash"


async def test_voucher_refused_after_collection_reverses_the_payment(
        wallet: Any, world: World) -> None:
    w = fake(wallet)
    shop, voucher = await wish_voucher(world)

    async def suspend_meanwhile() -> None:
        await world.post(f"/v1/vouchers/{voucher['id']}/suspend", {}, status=200)

    w.on_payment = suspend_meanwhile
    status, problem = await redeem(world, shop, voucher)
    assert (status, problem["code"]) == (403, "voucher_suspended")
    assert problem["redeemed"] is False
    assert problem["payment"] == {"channel": "http_wallet", "status": "reversed"}
    assert await scalar(world, "SELECT count(*) FROM redemptions") == 0
    assert w.net() == 0


async def test_reversal_finished_by_the_background_task(wallet: Any, world: World) -> None:
    w = fake(wallet)
    w.script = ["timeout"] * 3 + ["fail"] * 3  # the answer is lost, then refunds fail
    shop, voucher = await wish_voucher(world)
    status, problem = await redeem(world, shop, voucher)
    assert (status, problem["code"]) == (502, "payment_failed")
    assert problem["payment"]["status"] == "reversal_pending"
    assert await scalar(world, "SELECT count(*) FROM redemptions") == 0
    assert await scalar(world, "SELECT status FROM channel_payments") == "refund_pending"

    await asyncio.sleep(0.05)  # past the retry delay
    assert await channel_payments.retry_due(services_of(world)) == 1
    assert await scalar(world, "SELECT status FROM channel_payments") == "refunded"
    await assert_nothing_stands(world, voucher, w)
    assert await channel_payments.retry_due(services_of(world)) == 0


async def test_void_refunds_the_remainder(wallet: Any, world: World) -> None:
    w = fake(wallet)
    shop, voucher = await wish_voucher(world)
    _, first = await redeem(world, shop, voucher)
    _, second = await redeem(world, shop, voucher)
    assert w.net() == 6000

    resp = await world.client.post(f"/v1/redemptions/{first['id']}/void",
                                   headers=shop.headers(new_key()))
    voided = await resp.json()
    assert resp.status == 200, voided
    assert voided["payment"] == {"channel": "http_wallet", "amount": 3000,
                                 "status": "refunded"}
    assert w.net() == 3000

    w.script = ["fail"] * 3  # the provider is away when the second is voided
    resp = await world.client.post(f"/v1/redemptions/{second['id']}/void",
                                   headers=shop.headers(new_key()))
    voided = await resp.json()
    assert resp.status == 200 and voided["payment"]["status"] == "refund_pending"
    assert (await world.voucher(voucher["id"]))["balance"] == 30000  # the void stands
    await asyncio.sleep(0.05)
    assert await channel_payments.retry_due(services_of(world)) == 1
    assert w.net() == 0


async def test_a_retry_after_a_crash_reuses_the_collection(wallet: Any, world: World) -> None:
    """The process died after the provider said yes, before the redemption was written;
    the till retries with the same Idempotency-Key: charged once, redeemed once."""
    w = fake(wallet)
    shop, voucher = await wish_voucher(world)
    key = new_key()
    await channel_payments.collect(services_of(world), till_id=shop.till_id,
                           merchant_id=shop.merchant_id, idem_key=key, channel="http_wallet",
                           amount=3000, currency="CNY")
    assert w.net() == 3000
    status, data = await redeem(world, shop, voucher, key=key)
    assert status == 201, data
    assert len(w.payments) == 1 and w.net() == 3000
    assert await scalar(world, "SELECT count(*) FROM channel_payments") == 1


async def test_an_abandoned_collection_is_given_back(wallet: Any, world: World) -> None:
    w = fake(wallet)
    shop, _ = await wish_voucher(world)
    await channel_payments.collect(services_of(world), till_id=shop.till_id,
                           merchant_id=shop.merchant_id, idem_key=new_key(),
                           channel="http_wallet", amount=3000, currency="CNY")
    assert await channel_payments.retry_due(services_of(world)) == 0  # too recent to judge
    await services_of(world).pool.execute(
        "UPDATE channel_payments SET updated_at = now() - interval '1 hour'")
    assert await channel_payments.retry_due(services_of(world)) == 1
    assert await scalar(world, "SELECT status FROM channel_payments") == "refunded"
    assert w.net() == 0


async def test_channel_must_be_allowed_by_the_program(wallet: Any, world: World) -> None:
    shop = await world.shop()
    program = await world.program(restrictions=["any"], partners=[shop])  # cash only
    (voucher,) = await world.issue(program)
    status, problem = await redeem(world, shop, voucher)
    assert (status, problem["code"]) == (422, "channel_not_allowed")
    assert fake(wallet).requests == []


# ------------------------------------------------------------------------------------------
# the provider's webhooks


def webhook(event: dict[str, Any], timestamp: int | None = None,
            secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    return body, {"Content-Type": "application/json", "X-Wallet-Timestamp": str(ts),
                  "X-Wallet-Signature": sign(secret, ts, body)}


async def post_webhook(world: World, body: bytes, headers: dict[str, str],
                       channel: str = "http_wallet") -> tuple[int, dict[str, Any]]:
    resp = await world.client.post(f"/v1/channels/{channel}/webhooks", data=body,
                                   headers=headers)
    return resp.status, await resp.json()


async def test_webhooks_verified_idempotent_and_never_replayed(wallet: Any,
                                                               world: World) -> None:
    event = {"id": "evt_1", "type": "payment.captured", "data": {"payment_id": "pay_x"}}
    now = int(time.time())
    body, headers = webhook(event, now)
    assert await post_webhook(world, body, headers) == \
        (200, {"event_id": "evt_1", "status": "processed"})
    # The provider sends it again (a new delivery, newly signed): taken once.
    assert await post_webhook(world, *webhook(event, now + 1)) == \
        (200, {"event_id": "evt_1", "status": "duplicate"})
    # The very same signed delivery again: a replay.
    status, problem = await post_webhook(world, body, headers)
    assert (status, problem["code"]) == (409, "webhook_replayed")
    assert await scalar(world, "SELECT count(*) FROM channel_webhook_events") == 1

    # Header names are case-insensitive (a proxy may have lower-cased them).
    body4, headers4 = webhook({**event, "id": "evt_4"})
    assert (await post_webhook(world, body4, {k.lower(): v for k, v in headers4.items()})
            )[1]["status"] == "processed"
    stale = webhook({**event, "id": "evt_2"}, now - 3600)
    status, problem = await post_webhook(world, *stale)
    assert (status, problem["code"]) == (400, "webhook_stale")
    forged = webhook({**event, "id": "evt_3"}, secret="guess")
    status, problem = await post_webhook(world, *forged)
    assert (status, problem["code"]) == (401, "webhook_signature_invalid")
    status, problem = await post_webhook(world, b"{}", {"Content-Type": "application/json"})
    assert (status, problem["code"]) == (401, "webhook_signature_invalid")
    status, problem = await post_webhook(world, *webhook({"no": "id"}))
    assert (status, problem["code"]) == (422, "webhook_invalid")
    for channel in ("cash", "nope"):
        status, problem = await post_webhook(world, body, headers, channel=channel)
        assert (status, problem["code"]) == (404, "not_found")
    assert await scalar(world, "SELECT count(*) FROM channel_webhook_events") == 2


async def test_refund_confirmed_by_webhook(wallet: Any, world: World) -> None:
    w = fake(wallet)
    shop, voucher = await wish_voucher(world)
    _, data = await redeem(world, shop, voucher)
    w.script = ["fail"] * 3
    resp = await world.client.post(f"/v1/redemptions/{data['id']}/void",
                                   headers=shop.headers(new_key()))
    assert (await resp.json())["payment"]["status"] == "refund_pending"
    reference = data["payment"]["reference"]
    event = {"id": "evt_refund", "type": "refund.succeeded",
             "data": {"payment_id": reference}}
    now = int(time.time())
    for delay in (0, 1):  # delivered twice by the provider
        status, _ = await post_webhook(world, *webhook(event, now + delay))
        assert status == 200
    assert await scalar(world, "SELECT status FROM channel_payments") == "refunded"
    assert await channel_payments.retry_due(services_of(world)) == 0  # nothing left to chase


async def test_payouts_through_the_wallet(wallet: Any, world: World) -> None:
    plugins = services_of(world).plugins
    request = ChannelRequest(channel="http_wallet", amount=50000, currency="CNY",
                                      idempotency_key="batch-1", merchant_id="m-1")
    done = await plugins.call_channel("http_wallet", "payout", request)
    assert (done.state, done.reference) == ("ok", "po_batch-1")
    refused = await plugins.call_channel(
        "http_wallet", "payout", ChannelRequest(
            channel="http_wallet", amount=1, currency="CNY", idempotency_key="batch-2"))
    assert (refused.state, refused.message) == ("declined", "no payee")
    assert fake(wallet).bad_signatures == 0


async def test_concurrent_sales_on_one_voucher_never_half_done(wallet: Any,
                                                               world: World) -> None:
    """Six tills sell on one voucher at once: all six see 300 left and collect 30 each, but
    only three visits of 100 fit. The other three are refused and their 30 given back."""
    w = fake(wallet)
    shop, voucher = await wish_voucher(world)
    results = await asyncio.gather(*(redeem(world, shop, voucher) for _ in range(6)))
    taken = [data for status, data in results if status == 201]
    refused = [data for status, data in results if status != 201]
    assert len(taken) == 3, results
    for problem in refused:
        assert problem["code"] in ("voucher_exhausted", "amount_exceeds_coverage",
                                   "idempotency_in_progress"), problem
        assert problem["redeemed"] is False
        assert problem["payment"]["status"] == "reversed"
    assert (await world.voucher(voucher["id"]))["balance"] == 0
    assert w.net() == 3 * 3000  # exactly the remainders of the sales that stand
    bound = await scalar(world, "SELECT count(*) FROM channel_payments WHERE status = 'bound'")
    assert bound == 3


async def test_a_payment_bound_to_a_redemption_is_never_reversed_as_a_failure(
        wallet: Any, world: World) -> None:
    """If the till's request is cut off while its commit is acknowledged, the engine sees an
    error though the redemption stands: the reversal must then leave the payment alone."""
    from pos.storage import payment_journal as payment_store

    w = fake(wallet)
    shop, voucher = await wish_voucher(world)
    _, data = await redeem(world, shop, voucher)
    services = services_of(world)
    payment = await payment_store.for_redemption(services.pool, data["id"])
    assert payment is not None
    request = ChannelRequest(channel="http_wallet", amount=3000, currency="CNY",
                             idempotency_key=payment.provider_key)
    outcome = await services.plugins.call_channel("http_wallet", "collect", request)
    collected = channel_payments.Collected("http_wallet", 3000, "CNY", outcome, payment, request)
    assert await channel_payments.reverse(services, collected) == "collected"
    assert await scalar(world, "SELECT status FROM channel_payments") == "bound"
    assert w.refunds == {} and w.net() == 3000


async def test_a_collection_taken_over_before_it_was_bound(
        wallet: Any, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The background task judged the collection abandoned between the provider's yes and
    the redemption's commit: the redemption is not written, the till is told, and the
    reversal finishes in the background."""
    w = fake(wallet)
    shop, voucher = await wish_voucher(world)
    original = channel_payments.collect

    async def collect_then_lose_it(*args: Any, **kwargs: Any) -> channel_payments.Collected:
        collected = await original(*args, **kwargs)
        await services_of(world).pool.execute(
            "UPDATE channel_payments SET status = 'refund_pending', next_attempt_at = now()")
        return collected

    monkeypatch.setattr(channel_payments, "collect", collect_then_lose_it)
    status, problem = await redeem(world, shop, voucher)
    assert (status, problem["code"]) == (502, "payment_failed")
    assert problem["payment"]["status"] == "reversal_pending"
    assert await scalar(world, "SELECT count(*) FROM redemptions") == 0
    assert (await world.voucher(voucher["id"]))["balance"] == 30000
    assert await channel_payments.retry_due(services_of(world)) == 1
    assert w.net() == 0


async def test_a_webhook_timestamp_of_thousands_of_digits_is_refused(wallet: Any,
                                                                     world: World) -> None:
    body, headers = webhook({"id": "evt-huge", "type": "payment.succeeded"})
    headers["X-Wallet-Timestamp"] = "9" * 5000
    status, problem = await post_webhook(world, body, headers)
    assert 400 <= status < 500, problem
    assert problem["code"] == "webhook_signature_invalid"
