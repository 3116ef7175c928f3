"""The plugin facade reaches every kind of adapter the same way: settlement exporters and
providers' webhook checks fail closed with the plugin's name, as rules and channels do;
exports stay streams; `aclose` closes exporters too; rules read through `RuleReads`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pos_plugins.approved_products import ApprovedProductsRule

from pos import hookimpl
from pos.config import Config, PluginsConfig
from pos.errors import PluginProblem
from pos.messages import Phrase
from pos.plugin.exporter_types import BatchHeader, ExportContext, ExporterRegistry, ExportLine
from pos.plugin.manager import build_plugins
from pos.plugin.types import (
    ApprovedProducts,
    BasketLine,
    ChannelRegistry,
    ChannelRequest,
    ChannelResult,
    ProgramView,
    RuleContext,
    WebhookEvent,
    WebhookRejected,
    WebhookRequest,
)
from tests.conftest import World, make_config

TIMEOUT = 0.3


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    # A short plugin timeout, so the hanging plugins below are cut off quickly.
    return make_config(database_url, tmp_path / "data",
                       POS_PLUGINS_TIMEOUT_SECONDS=str(TIMEOUT))


# ------------------------------------------------------------------------------------------
# providers' webhooks


class WebhookChannelStub:
    """A channel whose `verify_webhook` does what the test says."""

    name = "stub_wallet"
    description = "Verifies webhooks as told."

    def __init__(self, verify: Any) -> None:
        self.verify = verify

    async def collect(self, request: ChannelRequest) -> ChannelResult:
        return ChannelResult(True)

    async def refund(self, request: ChannelRequest) -> ChannelResult:
        return ChannelResult(True)

    async def payout(self, request: ChannelRequest) -> ChannelResult:
        return ChannelResult(True)

    def verify_webhook(self, request: WebhookRequest) -> Any:
        return self.verify(request)


def _raises(request: WebhookRequest) -> WebhookEvent:
    raise RuntimeError("bug in the signature check")


def _nonsense(request: WebhookRequest) -> Any:
    return {"event_id": "evt_1"}


def _no_event_id(request: WebhookRequest) -> WebhookEvent:
    return WebhookEvent(event_id="", type="refund.succeeded", fingerprint="f")


async def _hangs(request: WebhookRequest) -> WebhookEvent:
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


async def _accepts(request: WebhookRequest) -> WebhookEvent:
    return WebhookEvent(event_id="evt_async", type="note", fingerprint="f-async")


def _rejects(request: WebhookRequest) -> WebhookEvent:
    raise WebhookRejected("webhook_signature_invalid", "The signature does not match.")


class StuckOnClose(WebhookChannelStub):
    async def close(self) -> None:
        await asyncio.sleep(3600)


def webhook_plugin(verify: Any, kind: type[WebhookChannelStub] = WebhookChannelStub
                   ) -> object:
    class Plugin:
        @hookimpl
        def pos_register_payment_channels(self, register: ChannelRegistry) -> None:
            register.add(kind(verify))
    return Plugin()


async def _post_webhook(world: World) -> tuple[int, dict[str, Any]]:
    resp = await world.client.post("/v1/channels/stub_wallet/webhooks", data=b"{}",
                                   headers={"Content-Type": "application/json"})
    return resp.status, await resp.json()


@pytest.fixture
def provider(request: pytest.FixtureRequest, temporary_plugin: Any) -> None:
    """Registers a provider whose check is `request.param`; list it before `world`, so it
    runs before the app is built."""
    temporary_plugin("stub_provider", webhook_plugin(request.param))


@pytest.mark.parametrize("provider", [_raises, _nonsense, _no_event_id, _hangs],
                         ids=["raises", "nonsense", "no_event_id", "hangs"], indirect=True)
async def test_a_failing_webhook_check_fails_closed(provider: None, world: World) -> None:
    status, problem = await _post_webhook(world)
    assert status == 502, problem
    assert (problem["code"], problem["plugin"]) == ("plugin_error", "stub_provider")


@pytest.mark.parametrize("provider", [_accepts], indirect=True)
async def test_a_webhook_check_may_be_async_and_refusals_keep_their_code(
        provider: None, world: World) -> None:
    assert await _post_webhook(world) == (200, {"event_id": "evt_async",
                                                "status": "processed"})
    plugins = build_plugins(PluginsConfig(), {"stub_provider": webhook_plugin(_rejects)})
    with pytest.raises(WebhookRejected) as refused:
        await plugins.verify_webhook(WebhookRequest("stub_wallet", {}, b"{}"))
    assert refused.value.code == "webhook_signature_invalid"
    assert not plugins.takes_webhooks("cash") and plugins.takes_webhooks("stub_wallet")


# ------------------------------------------------------------------------------------------
# settlement exporters


BATCH = BatchHeader(
    id="b1", run_id="r1", merchant_id="m1", merchant_name="Shop", program_id=None,
    currency="CNY", period_end=datetime(2025, 1, 31, tzinfo=UTC), status="approved",
    created_at=datetime(2025, 2, 1, tzinfo=UTC), approved_at=None, approvals=0,
    line_count=0, redemption_total=0, adjustment_total=0, total=0, payee=None)


class ScriptedExporter:
    """Yields `pieces`; a piece that is an exception is raised, `"hang"` hangs."""

    name = "scripted"
    description = "Does what the test says."
    media_type = "text/plain"
    extension = "txt"

    def __init__(self, pieces: Sequence[Any], refusal: Any = None) -> None:
        self.pieces = pieces
        self.refusal = refusal
        self.finished = False
        self.closed = False

    def refuse(self, batch: BatchHeader, settings: Mapping[str, Any]) -> Any:
        return self.refusal

    async def export(self, ctx: ExportContext) -> AsyncIterator[Any]:
        try:
            for piece in self.pieces:
                if isinstance(piece, Exception):
                    raise piece
                if piece == "hang":
                    await asyncio.sleep(3600)
                yield piece
        finally:
            self.finished = True

    async def close(self) -> None:
        self.closed = True


def exporter_plugin(exporter: ScriptedExporter) -> object:
    class Plugin:
        @hookimpl
        def pos_register_settlement_exporters(self, register: ExporterRegistry) -> None:
            register.add(exporter)
    return Plugin()


async def _no_lines() -> AsyncIterator[Sequence[ExportLine]]:
    empty: list[Sequence[ExportLine]] = []
    for chunk in empty:
        yield chunk


def _plugins(exporter: ScriptedExporter) -> Any:
    return build_plugins(PluginsConfig(timeout_seconds=TIMEOUT),
                         {"scripted_export": exporter_plugin(exporter)})


async def test_an_export_streams_piece_by_piece() -> None:
    exporter = ScriptedExporter([b"one\n", b"two\n"])
    pieces = _plugins(exporter).exports.batch("scripted", BATCH, _no_lines)
    assert await anext(pieces) == b"one\n" and not exporter.finished  # not read ahead
    assert [p async for p in pieces] == [b"two\n"] and exporter.finished


@pytest.mark.parametrize("pieces", [
    [b"first\n", RuntimeError("disk on fire")], [b"first\n", "not bytes"],
    [b"first\n", "hang"]], ids=["raises", "not_bytes", "hangs"])
async def test_an_exporter_failing_mid_file_is_a_plugin_problem(pieces: list[Any]) -> None:
    exporter = ScriptedExporter(pieces)
    stream = _plugins(exporter).exports.batch("scripted", BATCH, _no_lines)
    assert await anext(stream) == b"first\n"
    with pytest.raises(PluginProblem) as failed:
        await anext(stream)
    assert failed.value.plugin == "scripted_export"
    assert exporter.finished, "the exporter's generator is closed, not left hanging"


async def test_an_exporter_answering_nonsense_before_the_file_is_a_plugin_problem() -> None:
    plugins = _plugins(ScriptedExporter([], refusal=42))
    with pytest.raises(PluginProblem) as failed:
        plugins.exports.refuse("scripted", BATCH)
    assert failed.value.plugin == "scripted_export"
    info = plugins.exports.info("scripted")
    assert info is not None and (info.plugin, info.whole_runs) == ("scripted_export", False)


@pytest.mark.parametrize("refusal", [
    {"zh-CN": "只有中文"}, {"zh-CN": "中文", "en": ""}, {"zh-CN": "中文", "en": 7},
    {"zh-CN": "中文", "en": "English", "fr": "français"}, ["中文", "English"]],
    ids=["one_language", "empty", "not_text", "a_third_language", "a_list"])
async def test_a_refusal_not_in_both_languages_is_a_plugin_problem(refusal: Any) -> None:
    with pytest.raises(PluginProblem):
        _plugins(ScriptedExporter([], refusal=refusal)).exports.refuse("scripted", BATCH)


async def test_a_refusal_is_shown_in_the_readers_language() -> None:
    both = {"zh-CN": "商户没有收款账户。", "en": "The merchant has no payout account."}
    said = _plugins(ScriptedExporter([], refusal=both)).exports.refuse("scripted", BATCH)
    assert isinstance(said, Phrase)
    assert (said.render("zh-CN"), said.render("en")) == (both["zh-CN"], both["en"])
    # One plain sentence is said as it is, whatever the language; none is no refusal.
    plain = _plugins(ScriptedExporter([], refusal="Closed on Sundays."))
    assert plain.exports.refuse("scripted", BATCH) == "Closed on Sundays."
    assert _plugins(ScriptedExporter([], refusal="")).exports.refuse("scripted", BATCH) is None


async def test_aclose_closes_exporters_and_survives_a_hanging_close() -> None:
    exporter = ScriptedExporter([])
    plugins = build_plugins(
        PluginsConfig(timeout_seconds=TIMEOUT),
        {"stuck": webhook_plugin(_accepts, StuckOnClose),
         "scripted_export": exporter_plugin(exporter)})
    await plugins.aclose()  # the channel's close is cut off; the exporter's still runs
    assert exporter.closed


# ------------------------------------------------------------------------------------------
# what a rule may read


class FakeReads:
    def __init__(self) -> None:
        self.asked: list[tuple[str, list[str]]] = []

    async def approved_products(self, program_id: str, gtins: Sequence[str]
                                ) -> ApprovedProducts:
        self.asked.append((program_id, list(gtins)))
        return ApprovedProducts(version=3, listed=frozenset({"4006381333931"}))


def _context(reads: Any) -> RuleContext:
    program = ProgramView(id="p1", name="Food", currency="CNY",
                          restrictions=("approved_products",), rule_settings={},
                          require_identity=False)
    return RuleContext(program=program, merchant_id="m", till_id="t",
                       identity_confirmed=False, settings={}, reads=reads)


async def test_a_rule_reads_through_rule_reads_only() -> None:
    reads = FakeReads()
    lines = [BasketLine(1, "a", "grains", "Listed", 1, 100, gtin="4006381333931"),
             BasketLine(2, "b", "grains", "Other", 1, 100, gtin="4006381333948")]
    decisions = await ApprovedProductsRule().decide(_context(reads), lines)
    assert [d.eligible for d in decisions] == [True, False]
    assert decisions[0].detail == {"list_version": 3}
    assert reads.asked == [("p1", ["4006381333931", "4006381333948"])]


async def test_a_rule_without_reads_fails_closed() -> None:
    plugins = build_plugins(PluginsConfig(enabled=("approved_products",)))
    with pytest.raises(PluginProblem) as failed:
        await plugins.decide("approved_products", _context(None),
                             [BasketLine(1, "a", "grains", "Milk", 1, 100)])
    assert failed.value.plugin == "approved_products"
