"""The plugin system itself: one `test_hook_<name>` per registration hook (the event hooks'
are in test_outbox.py), plugins that fail closed, configuration, listing, the temporary
plugin fixture."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from pos import hookimpl
from pos.api.state import SERVICES
from pos.config import Config, PluginsConfig
from pos.errors import ConfigError
from pos.plugin.manager import build_plugins
from pos.plugin.types import (
    BasketLine,
    ChannelRegistry,
    ChannelRequest,
    ChannelResult,
    LineDecision,
    RestrictionRegistry,
    RuleContext,
    Setting,
)
from tests.conftest import ADMIN, Shop, World, basket, make_config, new_key


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    # A short plugin timeout, so the hanging plugin below is cut off quickly.
    return make_config(database_url, tmp_path / "data", POS_PLUGINS_TIMEOUT_SECONDS="0.3")


FINE = {"fine": {"zh-CN": "好", "en": "fine"}}


class FreshRule:
    name = "fresh_only"
    description = "Fresh fruit and vegetables."
    messages = {"decided": {
        "zh-CN": "{description}：由 fresh_only 判定（上限 {limit_amount}）",  # noqa: RUF001
        "en": "{description}: decided by fresh_only (limit {limit_amount})"}}

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> list[LineDecision]:
        limit = int(ctx.settings["max_line_total"])
        return [LineDecision(line.category == "fruit_vegetables" and line.total <= limit,
                             "decided", {"limit_amount": limit}, {"limit": limit})
                for line in lines]


class FreshPlugin:
    @hookimpl
    def pos_declare_settings(self) -> list[Setting]:
        return [Setting("max_line_total", int, 5000, "Largest line paid for.")]

    @hookimpl
    def pos_register_restrictions(self, register: RestrictionRegistry,
                                  settings: Mapping[str, Any]) -> None:
        register.add(FreshRule())


class RecordingChannel:
    name = "test_wallet"
    description = "Records what it is asked to do."
    external = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, ChannelRequest]] = []

    async def collect(self, request: ChannelRequest) -> ChannelResult:
        self.calls.append(("collect", request))
        return ChannelResult(True, reference=f"TW-{len(self.calls)}")

    async def refund(self, request: ChannelRequest) -> ChannelResult:
        self.calls.append(("refund", request))
        return ChannelResult(True, reference=f"TW-{len(self.calls)}")

    async def payout(self, request: ChannelRequest) -> ChannelResult:
        self.calls.append(("payout", request))
        return ChannelResult(True)


class ChannelPlugin:
    def __init__(self) -> None:
        self.channel = RecordingChannel()

    @hookimpl
    def pos_register_payment_channels(self, register: ChannelRegistry) -> None:
        # Takes fewer arguments than the spec: pluggy allows it, so must the core.
        register.add(self.channel)


@pytest.fixture
def registered(request: pytest.FixtureRequest, temporary_plugin: Any) -> Any:
    """Registers `request.param` = (name, plugin object) for the app; list this fixture
    before `world`, so it runs before the app is built."""
    name, plugin = request.param
    temporary_plugin(name, plugin)
    return plugin


def plugin_param(name: str, plugin: object, test_id: str | None = None) -> Any:
    return pytest.param((name, plugin), id=test_id or name)


async def _sale(world: World, restrictions: list[str], **program: Any
                ) -> tuple[Shop, str, dict[str, str]]:
    shop = await world.shop()
    program_id = await world.program(restrictions=restrictions, partners=[shop], **program)
    (voucher,) = await world.issue(program_id)
    return shop, program_id, voucher


async def _rows(world: World, table: str) -> int:
    # The state the test checks is read straight from the database the app uses.
    pool: asyncpg.Pool[Any] = world.client.app[SERVICES].pool
    count: int = await pool.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
    return count


# ------------------------------------------------------------------------------------------
# one test per hook


def test_hook_pos_declare_settings() -> None:
    plugins = build_plugins(PluginsConfig(settings={"fresh": {"max_line_total": "700"}}),
                            {"fresh": FreshPlugin()})
    assert plugins.settings["fresh"] == {"max_line_total": 700}  # converted to int
    assert build_plugins(PluginsConfig(), {"fresh": FreshPlugin()}).settings["fresh"] == \
        {"max_line_total": 5000}
    with pytest.raises(ConfigError, match="unknown key"):
        build_plugins(PluginsConfig(settings={"fresh": {"max_total": 1}}),
                      {"fresh": FreshPlugin()})
    with pytest.raises(ConfigError, match="is not a int"):
        build_plugins(PluginsConfig(settings={"fresh": {"max_line_total": "lots"}}),
                      {"fresh": FreshPlugin()})


@pytest.mark.parametrize("registered", [plugin_param("fresh", FreshPlugin())],
                         indirect=True)
async def test_hook_pos_register_restrictions(registered: Any, world: World) -> None:
    shop, _, voucher = await _sale(world, ["fresh_only"])
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "basket": basket(
            ("fruit_vegetables", 2, 1500), ("fruit_vegetables", 1, 9000), ("sweets", 1, 800))},
        headers=shop.headers(new_key()))
    data = await resp.json()
    assert resp.status == 201, data
    assert [(e["eligible"], e["rule"]) for e in data["lines"]] == \
        [(True, "fresh_only"), (False, "fresh_only"), (False, "fresh_only")]
    assert data["lines"][0]["detail"] == {"fresh_only": {"limit": 5000}}
    assert data["covered"] == 3000
    # The rule said why in a code with params; the core put it into words, Chinese first.
    first = data["lines"][0]
    assert (first["reason_code"], first["reason_params"]["limit_amount"]) == ("decided", 5000)
    assert first["reason"] == "fruit_vegetables item：由 fresh_only 判定（上限 50.00）"  # noqa: RUF001
    resp = await world.client.post(
        "/v1/quotes", json={"token": voucher["token"], "basket": basket(
            ("fruit_vegetables", 1, 1500))},
        headers={**shop.headers(), "Accept-Language": "en-GB,en;q=0.9"})
    assert (await resp.json())["lines"][0]["reason"] == \
        "fruit_vegetables item: decided by fresh_only (limit 50.00)"


@pytest.mark.parametrize("registered", [plugin_param("test_wallet", ChannelPlugin())],
                         indirect=True)
async def test_hook_pos_register_payment_channels(registered: Any, world: World) -> None:
    plugin = registered
    shop, _, voucher = await _sale(world, ["any"], face_value=10000,
                                   channels=["cash", "test_wallet"])
    key = new_key()
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "channel": "test_wallet",
                                 "basket": basket(("household", 1, 13000))},
        headers=shop.headers(key))
    data = await resp.json()
    assert resp.status == 201, data
    assert (data["covered"], data["remainder"]) == (10000, 3000)
    assert data["payment"]["status"] == "collected"
    assert data["payment"]["reference"] == "TW-1"
    ((op, request),) = plugin.channel.calls
    assert (op, request.amount, request.currency, request.channel) == \
        ("collect", 3000, "CNY", "test_wallet")
    assert request.idempotency_key and request.merchant_id == shop.merchant_id

    # The same request again: the first answer, the channel not called twice.
    again = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "channel": "test_wallet",
                                 "basket": basket(("household", 1, 13000))},
        headers=shop.headers(key))
    assert (await again.json())["id"] == data["id"] and len(plugin.channel.calls) == 1

    resp = await world.client.post(f"/v1/redemptions/{data['id']}/void",
                                   headers=shop.headers(new_key()))
    voided = await resp.json()
    assert resp.status == 200, voided
    assert voided["payment"] == {"channel": "test_wallet", "amount": 3000,
                                 "status": "refunded"}
    op, refund = plugin.channel.calls[1]
    assert (op, refund.amount, refund.metadata["payment_key"]) == \
        ("refund", 3000, request.idempotency_key)


# ------------------------------------------------------------------------------------------
# failing plugins fail closed


class RaisingRule:
    name = "broken"
    description = "Raises."
    messages = FINE

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> list[LineDecision]:
        raise RuntimeError("database of products unreachable")


class HangingRule:
    name = "broken"
    description = "Never answers."
    messages = FINE

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> list[LineDecision]:
        await asyncio.sleep(3600)
        return []


class NonsenseRule:
    name = "broken"
    description = "Answers the wrong thing."
    messages = FINE

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> Any:
        return self.answer


def rule_plugin(rule: Any) -> object:
    class Plugin:
        @hookimpl
        def pos_register_restrictions(self, register: RestrictionRegistry) -> None:
            register.add(rule)
    return Plugin()


@pytest.mark.parametrize("registered", [
    plugin_param("flaky_rules", rule_plugin(rule), test_id) for rule, test_id in [
        (RaisingRule(), "raises"), (HangingRule(), "hangs"), (NonsenseRule([]), "too_few"),
        (NonsenseRule("yes"), "not_a_list"), (NonsenseRule([LineDecision(True, "")]),
                                              "no_reason"),
        (NonsenseRule([{"eligible": True}]), "not_a_decision"),
        (NonsenseRule([LineDecision(True, "undeclared")]), "undeclared_reason"),
        (NonsenseRule([LineDecision(True, "fine", {"at": object()})]), "params_not_json"),
        (NonsenseRule([LineDecision(True, "fine", detail={"at": object()})]),
         "detail_not_json"),
        (NonsenseRule([LineDecision("yes", "fine")]), "not_a_bool")]  # type: ignore[arg-type]
], indirect=True)
async def test_a_failing_rule_fails_closed(registered: Any, world: World) -> None:
    shop, _, voucher = await _sale(world, ["any", "broken"])
    for path in ("/v1/quotes", "/v1/redemptions"):
        resp = await world.client.post(
            path, json={"token": voucher["token"], "basket": basket(("household", 1, 500))},
            headers=shop.headers(new_key()))
        problem = await resp.json()
        assert resp.status == 502, problem
        assert resp.content_type == "application/problem+json"
        assert (problem["code"], problem["plugin"]) == ("plugin_error", "flaky_rules")
    assert await _rows(world, "redemptions") == 0
    assert (await world.voucher(voucher["id"]))["balance"] == 30000


class RaisingChannel(RecordingChannel):
    name = "flaky_wallet"

    async def collect(self, request: ChannelRequest) -> ChannelResult:
        self.calls.append(("collect", request))
        raise RuntimeError("bug in the adapter")


class NonsenseChannel(RecordingChannel):
    name = "flaky_wallet"

    async def collect(self, request: ChannelRequest) -> Any:
        self.calls.append(("collect", request))
        return {"ok": True}


def channel_plugin(channel: RecordingChannel) -> Any:
    class Plugin:
        def __init__(self) -> None:
            self.channel = channel

        @hookimpl
        def pos_register_payment_channels(self, register: ChannelRegistry) -> None:
            register.add(channel)
    return Plugin()


class BadReferenceChannel(RecordingChannel):
    name = "flaky_wallet"

    async def collect(self, request: ChannelRequest) -> ChannelResult:
        self.calls.append(("collect", request))
        return ChannelResult(True, reference=12345)  # type: ignore[arg-type]


@pytest.mark.parametrize("registered", [
    plugin_param("flaky_channel", channel_plugin(RaisingChannel()), "raises"),
    plugin_param("flaky_channel", channel_plugin(NonsenseChannel()), "nonsense"),
    plugin_param("flaky_channel", channel_plugin(BadReferenceChannel()), "bad_reference"),
], indirect=True)
async def test_a_failing_channel_fails_closed(registered: Any, world: World) -> None:
    channel = registered.channel
    shop, _, voucher = await _sale(world, ["any"], face_value=1000,
                                   channels=["flaky_wallet"])
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "channel": "flaky_wallet",
                                 "basket": basket(("household", 1, 1500))},
        headers=shop.headers(new_key()))
    problem = await resp.json()
    assert resp.status == 502, problem
    assert (problem["code"], problem["plugin"]) == ("plugin_error", "flaky_channel")
    assert problem["redeemed"] is False
    assert problem["payment"] == {"channel": "flaky_wallet", "status": "reversed"}
    assert [op for op, _ in channel.calls] == ["collect", "refund"]
    assert await _rows(world, "redemptions") == 0
    assert (await world.voucher(voucher["id"]))["balance"] == 1000


# ------------------------------------------------------------------------------------------
# configuration and listing


def test_plugins_are_chosen_by_configuration() -> None:
    everything = build_plugins(PluginsConfig())
    for name in ("any", "categories", "nutrition", "books", "baby", "study", "meals",
                 "medicine", "approved_products", "cash", "http_wallet", "bank_transfer",
                 "webhooks"):
        assert name in everything.plugin_names()
    without = build_plugins(PluginsConfig(disabled=("books", "http_wallet")))
    assert "books" not in without.rules and "http_wallet" not in without.channels
    only = build_plugins(PluginsConfig(enabled=("any", "cash")))
    assert (sorted(only.rules), sorted(only.channels)) == (["any"], ["cash"])


@pytest.mark.parametrize("registered", [plugin_param("fresh", FreshPlugin())],
                         indirect=True)
async def test_plugins_listed_with_hooks_and_settings(registered: Any, world: World) -> None:
    resp = await world.client.get("/v1/plugins", headers=ADMIN)
    listed = {p["name"]: p for p in (await resp.json())["plugins"]}
    assert listed["fresh"]["rules"] == ["fresh_only"]
    assert listed["fresh"]["settings"] == [{
        "key": "max_line_total", "type": "int", "default": 5000,
        "description": "Largest line paid for.", "value": 5000}]
    assert listed["http_wallet"]["channels"] == ["http_wallet"]
    assert "pos_redemption_committed" in listed["webhooks"]["hooks"]
    assert listed["books"]["rules"] == ["books"]
    resp = await world.client.get("/v1/plugins")
    assert resp.status == 401


def test_pos_plugins_command(capsys: pytest.CaptureFixture[str]) -> None:
    from pos.cli.main import main

    root = Path(__file__).parent.parent
    assert main(["--config", str(root / "config.toml"), "plugins"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["nutrition"]["rules"] == ["nutrition"]
    assert {s["key"] for s in listed["http_wallet"]["settings"]} >= {"base_url", "secret"}


async def test_temporary_plugin_is_gone_after_the_test(world: World) -> None:
    resp = await world.client.get("/v1/plugins", headers=ADMIN)
    names = {p["name"] for p in (await resp.json())["plugins"]}
    assert "fresh" not in names and "flaky_rules" not in names


class BadDeclaration:
    @hookimpl
    def pos_declare_settings(self) -> Any:
        return [("limit", int, 1, "not a Setting")]


class RaisingRegistration:
    @hookimpl
    def pos_register_restrictions(self, register: RestrictionRegistry) -> None:
        raise RuntimeError("cannot open the product catalogue")


class HalfAChannel:
    @hookimpl
    def pos_register_payment_channels(self, register: ChannelRegistry) -> None:
        class OnlyCollects:
            name = "half"

            async def collect(self, request: ChannelRequest) -> ChannelResult:
                return ChannelResult(True)
        register.add(OnlyCollects())  # type: ignore[arg-type]


class EnglishOnlyRule(NonsenseRule):
    """A rule that forgot its Chinese: the service does not start."""

    name = "english_only"
    messages = {"fine": {"en": "fine"}}


class OddTemplateRule(NonsenseRule):
    name = "odd"
    messages = {"fine": {"zh-CN": "{0}好", "en": "{description.__class__} fine"}}


class SilentRule(RaisingRule):
    name = "silent"
    messages = {}


class Duplicate:
    @hookimpl
    def pos_register_restrictions(self, register: RestrictionRegistry) -> None:
        register.add(FreshRule())


@pytest.mark.parametrize(("plugins", "message"), [
    ({"bad": BadDeclaration()}, "plugin bad declared settings that are not Setting"),
    ({"boom": RaisingRegistration()}, "plugin boom failed in pos_register_restrictions"),
    ({"half": HalfAChannel()}, "payment channel 'half' without refund()"),
    ({"fresh": FreshPlugin(), "again": Duplicate()}, "registered by both"),
    ({"mute": rule_plugin(EnglishOnlyRule([]))},
     "the rule 'english_only' has no zh-CN text for its reason 'fine'"),
    ({"mute": rule_plugin(SilentRule())},
     "registered the rule 'silent' without messages"),
    ({"odd": rule_plugin(OddTemplateRule([]))}, "is not a template of named fields"),
])
def test_a_malformed_plugin_stops_the_start_up(plugins: dict[str, object],
                                               message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_plugins(PluginsConfig(), plugins)


@pytest.mark.parametrize("registered", [plugin_param("flaky_rules", rule_plugin(RaisingRule()))],
                         indirect=True)
async def test_a_failing_plugin_is_logged_by_name(registered: Any, world: World,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    shop, _, voucher = await _sale(world, ["broken"])
    with caplog.at_level(logging.ERROR, logger="pos.plugin.manager"):
        resp = await world.client.post(
            "/v1/quotes", json={"token": voucher["token"],
                                "basket": basket(("household", 1, 500))},
            headers=shop.headers())
    assert resp.status == 502
    (record,) = [r for r in caplog.records if r.name == "pos.plugin.manager"]
    assert "plugin flaky_rules: rule broken raised" in record.getMessage()
    assert "database of products unreachable" in (record.exc_text or "")
