"""Events from the outbox: written in the redemption's (or void's) own transaction,
delivered by the background task to every listener, retried with backoff, each listener
taking each event once; the `webhooks` plugin posting signed JSON to a program's system."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pos import hookimpl
from pos.api.state import SERVICES
from pos.config import Config
from pos.events import delivery
from pos.events.background import run_once
from pos.plugin.types import RedemptionEvent
from pos.service.services import Services
from tests.conftest import Shop, World, basket, make_config, new_key

WEBHOOK_SECRET = "whsec_test"


@pytest.fixture
def config(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Config:
    # The background loop stays asleep unless a test is about it; these tests drive
    # delivery themselves with run_once, so what they count does not race the loop.
    background = "background" in request.node.name
    return make_config(
        database_url, tmp_path / "data",
        POS_PLUGINS_EVENT_POLL_SECONDS="0.05" if background else "3600",
        POS_PLUGINS_EVENT_RETRY_SECONDS="0.01", POS_PLUGINS_EVENT_RETRY_MAX_SECONDS="0.05",
        POS_PLUGINS_EVENT_TIMEOUT_SECONDS="0.3", POS_PLUGINS_EVENT_MAX_ATTEMPTS="5",
        POS_PLUGINS_WEBHOOKS_SECRET=WEBHOOK_SECRET)


class Listener:
    """Fails its first `fail` calls, or hangs on every call."""

    def __init__(self, fail: int = 0, hang: bool = False) -> None:
        self.fail, self.hang = fail, hang
        self.calls: list[str] = []
        self.taken: list[RedemptionEvent] = []

    @hookimpl
    def pos_redemption_committed(self, event: RedemptionEvent,
                                 settings: Mapping[str, Any]) -> Any:
        return self._take(event)

    @hookimpl
    def pos_redemption_voided(self, event: RedemptionEvent) -> Any:
        return self._take(event)

    async def _take(self, event: RedemptionEvent) -> None:
        self.calls.append(event.event_id)
        if self.hang:
            await asyncio.sleep(3600)
        if len(self.calls) <= self.fail:
            raise RuntimeError("listener is down")
        self.taken.append(event)


class Quiet:
    """A listener with nothing to do returns None."""

    def __init__(self) -> None:
        self.seen = 0

    @hookimpl
    def pos_redemption_committed(self, event: RedemptionEvent) -> None:
        self.seen += 1


@pytest.fixture
def listeners(request: pytest.FixtureRequest, temporary_plugin: Any) -> dict[str, Any]:
    made = dict(getattr(request, "param", {"listener": Listener()}))
    for name, plugin in made.items():
        temporary_plugin(name, plugin)
    return made


def services_of(world: World) -> Services:
    app: web.Application = world.client.app
    return app[SERVICES]


async def fetch(world: World, query: str, *args: Any) -> list[asyncpg.Record]:
    return list(await services_of(world).pool.fetch(query, *args))


async def sale(world: World, **program: Any) -> tuple[Shop, dict[str, str]]:
    shop = await world.shop()
    program_id = await world.program(partners=[shop], **program)
    (voucher,) = await world.issue(program_id)
    return shop, voucher


async def redeem(world: World, shop: Shop, voucher: dict[str, str], price: int = 1000,
                 key: str | None = None) -> tuple[int, dict[str, Any]]:
    resp = await world.client.post(
        "/v1/redemptions",
        json={"token": voucher["token"], "basket": basket(("household", 1, price))},
        headers=shop.headers(key or new_key()))
    return resp.status, await resp.json()


async def drain(services: Services, rounds: int = 50) -> None:
    """Run delivery passes until nothing is due (retries are due after ~10-50 ms)."""
    for _ in range(rounds):
        await run_once(services)
        pending = await services.pool.fetchval(
            "SELECT count(*) FROM outbox_events WHERE delivered_at IS NULL "
            "AND failed_at IS NULL")
        if pending == 0:
            return
        await asyncio.sleep(0.02)


async def test_hook_pos_redemption_committed(listeners: dict[str, Any], world: World) -> None:
    shop, voucher = await sale(world, restrictions=["any"])
    status, data = await redeem(world, shop, voucher)
    assert status == 201, data
    # Written with the redemption, not yet delivered: the till did not wait for listeners.
    (row,) = await fetch(world, "SELECT id::text, kind, delivered_at FROM outbox_events")
    assert (row["kind"], row["delivered_at"]) == ("redemption.committed", None)
    assert listeners["listener"].calls == []

    await drain(services_of(world))
    (event,) = listeners["listener"].taken
    assert event.event_id == row["id"] and event.kind == "redemption.committed"
    assert event.redemption["id"] == data["id"]
    assert event.redemption["covered"] == 1000 and event.redemption["status"] == "captured"
    assert [line["rule"] for line in event.redemption["lines"]] == ["any"]
    assert event.program.restrictions == ("any",)
    assert "beneficiary_ref" not in json.dumps(event.redemption)


async def test_hook_pos_redemption_voided(listeners: dict[str, Any], world: World) -> None:
    shop, voucher = await sale(world, restrictions=["any"])
    _, data = await redeem(world, shop, voucher)
    resp = await world.client.post(f"/v1/redemptions/{data['id']}/void",
                                   headers=shop.headers(new_key()))
    assert resp.status == 200
    await drain(services_of(world))
    kinds = [(e.kind, e.redemption["status"]) for e in listeners["listener"].taken]
    assert sorted(kinds) == [("redemption.committed", "captured"),
                             ("redemption.voided", "voided")]


@pytest.mark.parametrize("listeners", [{"flaky": Listener(fail=2), "steady": Listener(),
                                        "quiet": Quiet()}], indirect=True)
async def test_failing_twice_then_succeeding_is_delivered_once(
        listeners: dict[str, Any], world: World) -> None:
    shop, voucher = await sale(world, restrictions=["any"])
    status, _ = await redeem(world, shop, voucher)
    assert status == 201
    services = services_of(world)
    await drain(services)
    for _ in range(3):
        await run_once(services)  # nothing more is due: nobody is called again

    flaky, steady = listeners["flaky"], listeners["steady"]
    (event_id,) = {r["id"] for r in await fetch(world, "SELECT id::text FROM outbox_events")}
    assert flaky.calls == [event_id] * 3 and [e.event_id for e in flaky.taken] == [event_id]
    # The healthy listener was not called again while the flaky one was retried.
    assert steady.calls == [event_id] and listeners["quiet"].seen == 1
    (row,) = await fetch(world, "SELECT attempts, delivered_at, last_error, taken "
                         "FROM outbox_events")
    # Which attempt each listener took it on, kept on the event.
    assert row["taken"] == {"flaky": 3, "quiet": 1, "steady": 1, "webhooks": 1}
    assert row["attempts"] == 3 and row["delivered_at"] is not None
    assert row["last_error"] is None


@pytest.mark.parametrize("listeners", [{"down": Listener(fail=100)}], indirect=True)
async def test_a_listener_that_never_recovers_is_parked(listeners: dict[str, Any],
                                                        world: World) -> None:
    shop, voucher = await sale(world, restrictions=["any"])
    await redeem(world, shop, voucher)
    await drain(services_of(world))
    (row,) = await fetch(world, "SELECT attempts, failed_at, delivered_at, last_error "
                         "FROM outbox_events")
    assert row["attempts"] == 5 and row["failed_at"] is not None
    assert row["delivered_at"] is None and "listener is down" in row["last_error"]
    assert len(listeners["down"].calls) == 5


async def test_only_committed_changes_make_events(listeners: dict[str, Any],
                                                  world: World) -> None:
    shop, voucher = await sale(world, restrictions=["categories"], face_value=1000,
                               rule_settings={"categories": {"allowed": ["household"]}})
    key = new_key()
    assert (await redeem(world, shop, voucher, key=key))[0] == 201
    assert (await redeem(world, shop, voucher, key=key))[0] == 201  # replay: no new event
    status, problem = await redeem(world, shop, voucher)  # exhausted: nothing written
    assert (status, problem["code"]) == (409, "voucher_exhausted")
    resp = await world.client.post("/v1/quotes", json={
        "token": voucher["token"], "basket": basket(("household", 1, 100))},
        headers=shop.headers())
    assert resp.status == 409
    rows = await fetch(world, "SELECT kind FROM outbox_events")
    assert [r["kind"] for r in rows] == ["redemption.committed"]


@pytest.mark.parametrize("listeners", [{"stuck": Listener(hang=True), "steady": Listener()}],
                         indirect=True)
async def test_background_delivery_survives_a_hanging_listener(
        listeners: dict[str, Any], world: World) -> None:
    shop, voucher = await sale(world, restrictions=["any"])
    for _ in range(2):
        status, _ = await redeem(world, shop, voucher)
        assert status == 201  # answered whatever the listeners do
    for _ in range(200):  # the app's own background task delivers
        if len(listeners["steady"].taken) == 2 and len(listeners["stuck"].calls) >= 4:
            break
        await asyncio.sleep(0.05)
    assert len(listeners["steady"].taken) == 2
    assert len(listeners["stuck"].calls) >= 4  # cut off by the timeout and retried
    rows = await fetch(world, "SELECT last_error FROM outbox_events")
    assert all("TimeoutError" in (r["last_error"] or "") for r in rows)


# ------------------------------------------------------------------------------------------
# the webhooks plugin


class ProgramSystem:
    """The program's own server, on loopback: fails its first `fail` posts."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.received: list[tuple[Mapping[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        if len(self.received) <= self.fail:
            return web.Response(status=503)
        return web.Response(status=204)


@pytest.fixture
async def program_system() -> AsyncIterator[tuple[ProgramSystem, str]]:
    system = ProgramSystem(fail=1)
    app = web.Application()
    app.router.add_post("/hooks/pos", system.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield system, str(server.make_url("/hooks/pos"))
    await server.close()


async def test_webhooks_plugin_posts_signed_json(
        program_system: tuple[ProgramSystem, str], world: World) -> None:
    system, url = program_system
    shop, voucher = await sale(world, restrictions=["any"],
                               rule_settings={"webhooks": {"url": url}})
    _, data = await redeem(world, shop, voucher, price=2500)
    await drain(services_of(world))

    assert len(system.received) == 2  # refused once, then taken
    (event_id,) = {headers["X-Pos-Event-Id"] for headers, _ in system.received}
    headers, body = system.received[-1]
    assert headers["X-Pos-Event"] == "redemption.committed"
    timestamp, signature = (part.split("=", 1)[1] for part in
                            headers["X-Pos-Signature"].split(","))
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    payload = json.loads(body)
    assert payload["id"] == event_id and payload["type"] == "redemption.committed"
    assert payload["redemption"]["id"] == data["id"]
    assert payload["redemption"]["covered"] == 2500

    # A program without a URL is not posted to (and its event still completes).
    shop2, voucher2 = await sale(world, restrictions=["any"])
    await redeem(world, shop2, voucher2)
    await drain(services_of(world))
    assert len(system.received) == 2
    rows = await fetch(world, "SELECT count(*) AS n FROM outbox_events WHERE delivered_at "
                       "IS NULL")
    assert rows[0]["n"] == 0


async def test_retry_delay_doubles_up_to_the_maximum(world: World) -> None:
    services = services_of(world)
    assert [delivery.retry_delay(services, n) for n in (1, 2, 3, 10)] == \
        [0.01, 0.02, 0.04, 0.05]


class SlowListener(Listener):
    async def _take(self, event: RedemptionEvent) -> None:
        self.calls.append(event.event_id)
        await asyncio.sleep(0.05)
        self.taken.append(event)


@pytest.mark.parametrize("listeners", [{"slow": SlowListener()}], indirect=True)
async def test_several_workers_deliver_each_event_once(listeners: dict[str, Any],
                                                       world: World) -> None:
    """Several service processes share one outbox: events are leased, so two workers
    running at once never hand the same event to a listener twice."""
    shop, voucher = await sale(world, restrictions=["any"])
    for _ in range(6):
        assert (await redeem(world, shop, voucher, price=100))[0] == 201
    services = services_of(world)
    await asyncio.gather(*(delivery.deliver_due(services, limit=2) for _ in range(4)))
    await drain(services)
    calls = listeners["slow"].calls
    assert len(calls) == len(set(calls)) == 6


async def test_delivered_events_are_pruned_after_a_week(listeners: dict[str, Any],
                                                        world: World) -> None:
    shop, voucher = await sale(world, restrictions=["any"])
    for _ in range(2):
        await redeem(world, shop, voucher, price=100)
    services = services_of(world)
    await drain(services)
    pool = services.pool
    await pool.execute("UPDATE outbox_events SET delivered_at = now() - interval '8 days' "
                       "WHERE id = (SELECT id FROM outbox_events ORDER BY created_at LIMIT 1)")
    assert await delivery.prune(services) == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox_events") == 1


async def test_webhooks_are_never_posted_unsigned() -> None:
    from pos_plugins.webhooks import WebhookFailed, pos_redemption_committed

    from pos.plugin.types import ProgramView

    program = ProgramView(id="p", name="P", currency="CNY", restrictions=("any",),
                          rule_settings={"webhooks": {"url": "http://127.0.0.1:9/x"}},
                          require_identity=False)
    event = RedemptionEvent(event_id="e", kind="redemption.committed", occurred_at="",
                            redemption={}, program=program)
    pending = pos_redemption_committed(event, {"secret": "", "timeout_seconds": 1.0})
    assert pending is not None
    with pytest.raises(WebhookFailed, match="secret is not set"):
        await pending
    no_url = RedemptionEvent(event_id="e", kind="redemption.committed", occurred_at="",
                             redemption={}, program=ProgramView(
                                 id="p", name="P", currency="CNY", restrictions=("any",),
                                 rule_settings={}, require_identity=False))
    assert pos_redemption_committed(no_url, {"secret": "s", "timeout_seconds": 1.0}) is None
