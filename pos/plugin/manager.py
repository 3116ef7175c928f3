"""The core's only way to reach plugins: `Plugins`, a small typed facade over the adapters
the plugins registered, built per app by `build_plugins(config)`, never at import time.

Every call into a plugin goes through here, with a time limit, and fails closed: a plugin
that raises, hangs or returns nonsense becomes a `PluginProblem` naming the plugin (or, for
payment channels, a `ChannelOutcome` the core reverses), never an unhandled error. How
plugins are found and their registrations taken is `pos.plugin.loading`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from types import ModuleType
from typing import Any, Literal, TypeGuard

import pluggy

from pos import metrics
from pos.config import PluginsConfig
from pos.errors import PluginProblem
from pos.messages import CORE_REASONS, NEVER_RULE, msg, pick, render
from pos.plugin import hookspecs
from pos.plugin.exporter_calls import ExporterCalls
from pos.plugin.loading import (
    ENTRY_POINT_GROUP,
    Registrations,
    call_hookimpl,
    check_plugin_names,
    installed_plugin_names,
    load_entry_points,
)
from pos.plugin.offline_rules import OfflineRule
from pos.plugin.types import (
    BasketLine,
    ChannelRequest,
    ChannelResult,
    ChannelUnavailable,
    LineDecision,
    PaymentChannel,
    ProgramView,
    RestrictionRule,
    RuleContext,
    WebhookChannel,
    WebhookEvent,
    WebhookRejected,
    WebhookRequest,
)
from pos.taxonomy import CATEGORIES, label

log = logging.getLogger(__name__)

# Categories in the taxonomy's order (unknown codes last), so lists read as documented.
CATEGORY_ORDER: dict[str, int] = {code: i for i, code in enumerate(CATEGORIES)}


@dataclasses.dataclass(frozen=True)
class ChannelOutcome:
    """What became of one call to a channel, as the core needs to know it.

    `ok` and `declined` are the provider's answers. `unavailable` (the channel raised
    `ChannelUnavailable`) and `broken` (it raised anything else, hung past its timeout or
    returned nonsense) mean nobody knows whether money moved: the core must reverse.
    """

    plugin: str
    state: Literal["ok", "declined", "unavailable", "broken"]
    reference: str | None = None
    message: str = ""


def _storable(detail: Any) -> bool:
    """A decision's detail (a webhook's data) is stored as JSON."""
    if detail is None:
        return True
    if not isinstance(detail, Mapping):
        return False
    try:
        json.dumps(dict(detail))
    except (TypeError, ValueError):
        return False
    return True


def _is_webhook_event(event: Any) -> TypeGuard[WebhookEvent]:
    return (isinstance(event, WebhookEvent) and isinstance(event.event_id, str)
            and bool(event.event_id) and isinstance(event.fingerprint, str)
            and bool(event.fingerprint) and isinstance(event.type, str)
            and isinstance(event.reference, str | None) and _storable(event.data))


class Plugins(Registrations):
    """The core's only way to reach plugins."""

    def __init__(self, pm: pluggy.PluginManager, config: PluginsConfig) -> None:
        super().__init__(pm, config.settings)
        self.timeout = config.timeout_seconds
        self.event_timeout = config.event_timeout_seconds
        self.exports = ExporterCalls(self.exporters, self.settings, self.timeout)

    # -- restriction rules -------------------------------------------------------------

    def unknown_rules(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if n not in self.rules]

    def rule_program_settings(self, rule_name: str) -> Mapping[str, str] | None:
        """The keys (and their kinds) a program may set for this rule, or None when the
        rule does not say (see `RestrictionRule`)."""
        registered = self.rules.get(rule_name)
        declared = getattr(registered.adapter, "program_settings", None) if registered else None
        return dict(declared) if isinstance(declared, Mapping) else None

    async def decide(
        self, rule_name: str, ctx_without_settings: RuleContext, lines: Sequence[BasketLine]
    ) -> list[LineDecision]:
        """One rule's decisions, checked; a plugin that fails makes the request fail closed."""
        registered = self.rules.get(rule_name)
        if registered is None:
            raise PluginProblem(rule_name, msg("plugin_error.not_installed", rule=rule_name))
        rule: RestrictionRule = registered.adapter
        ctx = dataclasses.replace(
            ctx_without_settings, settings=self.settings.get(registered.plugin, {})
        )
        detail = msg("plugin_error.rule", rule=rule_name)
        call = f"rule:{rule_name}"
        try:
            # asyncio.timeout, not wait_for: no task per rule, so a rule that is plain
            # in-process code runs inline in the request's own task.
            with metrics.PLUGIN_SECONDS.labels(registered.plugin, call).time():
                async with asyncio.timeout(self.timeout):
                    decisions = await rule.decide(ctx, lines)
        except TimeoutError:
            metrics.PLUGIN_FAILURES.labels(registered.plugin, call, "timeout").inc()
            log.error("plugin %s: rule %s timed out", registered.plugin, rule_name)
            raise PluginProblem(registered.plugin, detail) from None
        except Exception:
            metrics.PLUGIN_FAILURES.labels(registered.plugin, call, "raised").inc()
            log.exception("plugin %s: rule %s raised", registered.plugin, rule_name)
            raise PluginProblem(registered.plugin, detail) from None
        decisions = list(decisions) if isinstance(decisions, (list, tuple)) else []
        messages = rule.messages
        if len(decisions) != len(lines) or not all(
            isinstance(d, LineDecision) and isinstance(d.eligible, bool)
            and isinstance(d.code, str) and d.code in messages
            and _storable(d.params) and _storable(d.detail)
            for d in decisions
        ):
            metrics.PLUGIN_FAILURES.labels(registered.plugin, call, "nonsense").inc()
            log.error("plugin %s: rule %s returned nonsense", registered.plugin, rule_name)
            raise PluginProblem(registered.plugin, detail)
        return decisions

    def reason(self, rule_name: str, code: str, params: Mapping[str, Any], lang: str) -> str:
        """A rule's reason `code` put into words in `lang` (checked by `decide`: the rule
        declared it in both languages)."""
        if rule_name == NEVER_RULE:
            texts: Mapping[str, str] = CORE_REASONS[code]
        else:
            texts = self.rules[rule_name].adapter.messages[code]
        return render(pick(texts, lang), params, lang)

    def what_it_buys(self, program: ProgramView, never: Collection[str]
                     ) -> list[Mapping[str, str]]:
        """What a program's voucher pays for in plain words, one entry per rule, each in
        zh-CN and en: the labels of the categories a rule's `buys()` names (less the
        never-list), else its `buys` message. A rule that fails here is left out (logged):
        this only describes, it never decides."""
        said: list[Mapping[str, str]] = []
        for name in program.restrictions:
            registered = self.rules.get(name)
            if registered is None:
                continue
            rule = registered.adapter
            try:
                if callable(getattr(rule, "buys", None)):
                    found = rule.buys(program, self.settings.get(registered.plugin, {}))
                    codes = sorted(set(found) - set(never),
                                   key=lambda c: CATEGORY_ORDER.get(c, len(CATEGORY_ORDER)))
                    said.append({"zh-CN": "、".join(label(c, "zh-CN") for c in codes),
                                 "en": ", ".join(label(c, "en") for c in codes)})
                elif "buys" in rule.messages:
                    said.append(dict(rule.messages["buys"]))
            except Exception:
                log.exception("plugin %s: rule %s could not say what it buys",
                              registered.plugin, name)
        return said

    async def describe_offline(
        self, rule_name: str, ctx_without_settings: RuleContext
    ) -> OfflineRule | None:
        """The rule's description for the offline kit, from the plugin that registered it;
        None (online-only) when it has none or fails to give one."""
        registered = self.rules.get(rule_name)
        if registered is None:
            return None
        ctx = dataclasses.replace(
            ctx_without_settings, settings=self.settings.get(registered.plugin, {}))
        for impl in self.pm.hook.pos_describe_restriction.get_hookimpls():
            if impl.plugin_name != registered.plugin:
                continue
            try:
                found = call_hookimpl(impl, rule=rule_name, ctx=ctx)
                if inspect.isawaitable(found):
                    found = await asyncio.wait_for(found, self.timeout)
            except Exception:
                log.exception("plugin %s: describing rule %s failed", registered.plugin,
                              rule_name)
                return None
            if isinstance(found, OfflineRule):
                return found
        return None

    # -- payment channels --------------------------------------------------------------

    def channel(self, name: str) -> PaymentChannel | None:
        registered = self.channels.get(name)
        return None if registered is None else registered.adapter  # type: ignore[no-any-return,unused-ignore]

    async def call_channel(
        self, name: str, operation: Literal["collect", "refund", "payout"],
        request: ChannelRequest,
    ) -> ChannelOutcome:
        """Call one channel method, never raising: every failure becomes an outcome."""
        registered = self.channels.get(name)
        if registered is None:
            return ChannelOutcome(name, "broken", message=f"channel {name!r} is not installed")
        plugin = registered.plugin
        # A provider adapter retries on its own; it says how long that may take in all.
        timeout = float(getattr(registered.adapter, "call_timeout", 0) or self.timeout)
        call = f"channel:{name}:{operation}"
        try:
            with metrics.PLUGIN_SECONDS.labels(plugin, call).time():
                result = await asyncio.wait_for(
                    getattr(registered.adapter, operation)(request), timeout)
        except ChannelUnavailable as exc:
            metrics.PLUGIN_FAILURES.labels(plugin, call, "unavailable").inc()
            log.warning("plugin %s: channel %s %s unavailable: %s", plugin, name, operation, exc)
            return ChannelOutcome(plugin, "unavailable", message=str(exc))
        except TimeoutError:
            metrics.PLUGIN_FAILURES.labels(plugin, call, "timeout").inc()
            log.error("plugin %s: channel %s %s timed out", plugin, name, operation)
            return ChannelOutcome(plugin, "broken", message="timed out")
        except Exception:
            metrics.PLUGIN_FAILURES.labels(plugin, call, "raised").inc()
            log.exception("plugin %s: channel %s %s raised", plugin, name, operation)
            return ChannelOutcome(plugin, "broken", message="raised")
        if (not isinstance(result, ChannelResult) or not isinstance(result.ok, bool)
                or not isinstance(result.reference, str | None)
                or not isinstance(result.message, str)):
            log.error("plugin %s: channel %s %s returned nonsense", plugin, name, operation)
            return ChannelOutcome(plugin, "broken", message="returned nonsense")
        return ChannelOutcome(plugin, "ok" if result.ok else "declined",
                              result.reference, result.message)

    # -- payment providers' webhooks ---------------------------------------------------

    def takes_webhooks(self, name: str) -> bool:
        """Whether the channel `name` is installed and verifies its provider's webhooks."""
        registered = self.channels.get(name)
        return registered is not None and isinstance(registered.adapter, WebhookChannel)

    async def verify_webhook(self, request: WebhookRequest) -> WebhookEvent:
        """The channel's verified event. A call the channel will not accept raises its
        `WebhookRejected`; a channel that fails, hangs or returns nonsense is a
        `PluginProblem`."""
        registered = self.channels.get(request.channel)
        if registered is None or not isinstance(registered.adapter, WebhookChannel):
            raise PluginProblem(request.channel,
                                f"The channel {request.channel!r} takes no webhooks.")
        plugin = registered.plugin
        detail = "The channel could not read this webhook."
        try:
            event: Any = registered.adapter.verify_webhook(request)
            if inspect.isawaitable(event):
                event = await asyncio.wait_for(event, self.timeout)
        except WebhookRejected as rejected:
            if isinstance(rejected.code, str) and rejected.code:
                raise
            log.error("plugin %s: webhook refused without a code", plugin)
            raise PluginProblem(plugin, detail) from None
        except TimeoutError:
            log.error("plugin %s: verifying a webhook timed out", plugin)
            raise PluginProblem(plugin, detail) from None
        except Exception:
            log.exception("plugin %s: verifying a webhook raised", plugin)
            raise PluginProblem(plugin, detail) from None
        if not _is_webhook_event(event):
            log.error("plugin %s: verifying a webhook returned nonsense", plugin)
            raise PluginProblem(plugin, detail)
        return event

    # -- events ------------------------------------------------------------------------

    def listeners(self, hook_name: str) -> list[str]:
        """The plugins implementing an event hook, in a stable order."""
        return sorted(i.plugin_name for i in getattr(self.pm.hook, hook_name).get_hookimpls())

    async def notify(self, hook_name: str, plugin: str, event: Any) -> None:
        """Deliver one event to one listener; raises whatever the listener raised (the
        outbox retries), `TimeoutError` if it hung."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name == plugin:
                call = f"event:{hook_name}"
                try:
                    with metrics.PLUGIN_SECONDS.labels(plugin, call).time():
                        result = call_hookimpl(impl, event=event,
                                               settings=self.settings.get(plugin, {}))
                        if inspect.isawaitable(result):
                            async with asyncio.timeout(self.event_timeout):
                                await result
                except Exception as exc:
                    kind = "timeout" if isinstance(exc, TimeoutError) else "raised"
                    metrics.PLUGIN_FAILURES.labels(plugin, call, kind).inc()
                    raise
                return

    async def aclose(self) -> None:
        """Let adapters that hold resources (HTTP sessions) release them; each may take the
        plugin timeout, and one that fails does not keep the others open."""
        closed: set[int] = set()  # one adapter may be registered as more than one kind
        for registered in [*self.rules.values(), *self.channels.values(),
                           *self.exporters.values()]:
            close = getattr(registered.adapter, "close", None)
            if (close is None or not inspect.iscoroutinefunction(close)
                    or id(registered.adapter) in closed):
                continue
            closed.add(id(registered.adapter))
            try:
                await asyncio.wait_for(close(), self.timeout)
            except Exception:
                log.exception("plugin %s: closing failed", registered.plugin)


def build_plugins(
    config: PluginsConfig, extra: Mapping[str, ModuleType | object] | None = None
) -> Plugins:
    """A fresh plugin manager with the configured plugins (and `extra`, for tests)."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    check_plugin_names(config.enabled, config.disabled, config.settings,
                       installed_plugin_names() | set(extra or {}))
    load_entry_points(pm, config.enabled, config.disabled)
    for name, plugin in (extra or {}).items():
        pm.register(plugin, name=name)
    pm.check_pending()
    return Plugins(pm, config)
