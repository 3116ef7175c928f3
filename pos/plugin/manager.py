"""The plugin manager: built per app by `build_plugins(config)`, never at import time.

Plugins (built-in ones included) are found through the `pos` entry-point group; an allow
list (`plugins.enabled`, empty = all) and a block list (`plugins.disabled`) from the
configuration choose which load. `Plugins` is the small typed facade through which the core
reaches them; nothing else touches `pm.hook`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, Literal

import pluggy

from pos.config import PluginsConfig
from pos.errors import ConfigError, PluginProblem
from pos.plugin import hookspecs
from pos.plugin.exporter_types import SettlementExporter
from pos.plugin.offline_rules import OfflineRule
from pos.plugin.types import (
    BasketLine,
    ChannelRequest,
    ChannelResult,
    ChannelUnavailable,
    LineDecision,
    PaymentChannel,
    RestrictionRule,
    RuleContext,
    Setting,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "pos"


@dataclasses.dataclass(frozen=True)
class Registered:
    """An adapter and the plugin that registered it."""

    plugin: str
    adapter: Any


# What an adapter of each kind must have, checked when it is registered (start-up), so a
# malformed plugin stops the service at once rather than failing a till later.
_REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "restriction rule": ("decide",),
    "payment channel": ("collect", "refund", "payout"),
}


class _Registry:
    """The registry handed to one plugin's registration hook."""

    def __init__(self, plugin: str, kind: str, into: dict[str, Registered]) -> None:
        self._plugin = plugin
        self._kind = kind
        self._into = into

    def add(self, adapter: Any) -> None:
        name = getattr(adapter, "name", None)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"plugin {self._plugin} registered a {self._kind} without a name")
        for method in _REQUIRED_METHODS.get(self._kind, ()):
            if not callable(getattr(adapter, method, None)):
                raise ConfigError(
                    f"plugin {self._plugin} registered the {self._kind} {name!r} without "
                    f"{method}()")
        if name in self._into:
            other = self._into[name].plugin
            raise ConfigError(
                f"{self._kind} {name!r} is registered by both {other} and {self._plugin}"
            )
        self._into[name] = Registered(self._plugin, adapter)


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
    """A decision's detail is stored as JSON with the redemption line."""
    if detail is None:
        return True
    if not isinstance(detail, Mapping):
        return False
    try:
        json.dumps(dict(detail))
    except (TypeError, ValueError):
        return False
    return True


def _call(impl: Any, **available: Any) -> Any:
    """Call a hook implementation with the arguments it asks for (pluggy lets an
    implementation take fewer arguments than its spec)."""
    return impl.function(**{name: available[name] for name in impl.argnames})


def _convert(setting: Setting, value: Any, plugin: str) -> Any:
    kind = setting.type
    try:
        if kind is bool and isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        if kind in (list, tuple) and isinstance(value, str):
            return kind(v.strip() for v in value.split(",") if v.strip())
        if kind in (int, float) and isinstance(value, bool):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"[plugins.{plugin}] {setting.key}: {value!r} is not a {kind.__name__}"
        ) from None


class Plugins:
    """The core's only way to reach plugins."""

    def __init__(self, pm: pluggy.PluginManager, config: PluginsConfig) -> None:
        self.pm = pm
        self.timeout = config.timeout_seconds
        self.event_timeout = config.event_timeout_seconds
        self.declared: dict[str, list[Setting]] = {}
        self.settings: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, Registered] = {}
        self.channels: dict[str, Registered] = {}
        self._resolve_settings(config.settings)
        self._register("pos_register_restrictions", "restriction rule", self.rules)
        self._register("pos_register_payment_channels", "payment channel", self.channels)
        self.exporters: dict[str, Registered] = {}
        self._register("pos_register_settlement_exporters", "settlement exporter",
                       self.exporters)

    # -- start-up ----------------------------------------------------------------------

    def _resolve_settings(self, tables: Mapping[str, Mapping[str, Any]]) -> None:
        for impl in self.pm.hook.pos_declare_settings.get_hookimpls():
            try:
                returned: Any = impl.function()
                declared = list(returned or [])
            except Exception as exc:
                raise ConfigError(
                    f"plugin {impl.plugin_name} could not declare its settings: {exc!r}"
                ) from exc
            if not all(isinstance(s, Setting) for s in declared):
                raise ConfigError(
                    f"plugin {impl.plugin_name} declared settings that are not Setting(...)")
            self.declared[impl.plugin_name] = declared
        for name in self.plugin_names():
            by_key = {s.key: s for s in self.declared.get(name, [])}
            table = dict(tables.get(name, {}))
            unknown = set(table) - set(by_key)
            if unknown:
                raise ConfigError(
                    f"[plugins.{name}] has unknown key(s): {', '.join(sorted(unknown))}"
                )
            self.settings[name] = {
                key: _convert(s, table[key], name) if key in table else s.default
                for key, s in by_key.items()
            }

    def _register(self, hook_name: str, kind: str, into: dict[str, Registered]) -> None:
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            plugin = impl.plugin_name
            try:
                _call(impl, register=_Registry(plugin, kind, into),
                      settings=self.settings.get(plugin, {}))
            except ConfigError:
                raise
            except Exception as exc:
                # A plugin that cannot register stops the start-up, naming itself.
                raise ConfigError(f"plugin {plugin} failed in {hook_name}: {exc!r}") from exc

    def plugin_names(self) -> list[str]:
        return sorted(
            name for name, plugin in self.pm.list_name_plugin() if plugin is not None
        )

    def describe(self) -> list[dict[str, Any]]:
        """What `pos plugins` and `GET /v1/plugins` show."""
        out = []
        for name in self.plugin_names():
            plugin = self.pm.get_plugin(name)
            out.append({
                "name": name,
                "module": getattr(plugin, "__name__", type(plugin).__name__),
                "hooks": sorted(h.name for h in self.pm.get_hookcallers(plugin) or []),
                "rules": sorted(k for k, r in self.rules.items() if r.plugin == name),
                "channels": sorted(k for k, r in self.channels.items() if r.plugin == name),
                "exporters": sorted(k for k, r in self.exporters.items() if r.plugin == name),
                "settings": [
                    {"key": s.key, "type": s.type.__name__, "default": s.default,
                     "description": s.description, "value": self.settings[name].get(s.key)}
                    for s in self.declared.get(name, [])
                ],
            })
        return out

    # -- restriction rules -------------------------------------------------------------

    def unknown_rules(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if n not in self.rules]

    async def decide(
        self, rule_name: str, ctx_without_settings: RuleContext, lines: Sequence[BasketLine]
    ) -> list[LineDecision]:
        """One rule's decisions, checked; a plugin that fails makes the request fail closed."""
        registered = self.rules.get(rule_name)
        if registered is None:
            raise PluginProblem(rule_name, f"The voucher rule {rule_name!r} is not installed.")
        rule: RestrictionRule = registered.adapter
        ctx = dataclasses.replace(
            ctx_without_settings, settings=self.settings.get(registered.plugin, {})
        )
        detail = (f"The voucher rule {rule_name!r} could not decide on this basket. "
                  "Nothing was charged; try again or take another payment.")
        try:
            decisions = await asyncio.wait_for(rule.decide(ctx, lines), self.timeout)
        except TimeoutError:
            log.error("plugin %s: rule %s timed out", registered.plugin, rule_name)
            raise PluginProblem(registered.plugin, detail) from None
        except Exception:
            log.exception("plugin %s: rule %s raised", registered.plugin, rule_name)
            raise PluginProblem(registered.plugin, detail) from None
        decisions = list(decisions) if isinstance(decisions, (list, tuple)) else []
        if len(decisions) != len(lines) or not all(
            isinstance(d, LineDecision) and isinstance(d.eligible, bool)
            and isinstance(d.reason, str) and d.reason and _storable(d.detail)
            for d in decisions
        ):
            log.error("plugin %s: rule %s returned nonsense", registered.plugin, rule_name)
            raise PluginProblem(registered.plugin, detail)
        return decisions

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
                found = _call(impl, rule=rule_name, ctx=ctx)
                if inspect.isawaitable(found):
                    found = await asyncio.wait_for(found, self.timeout)
            except Exception:
                log.exception("plugin %s: describing rule %s failed", registered.plugin,
                              rule_name)
                return None
            if isinstance(found, OfflineRule):
                return found
        return None

    # -- settlement exporters ----------------------------------------------------------

    def exporter(self, name: str) -> tuple[SettlementExporter, dict[str, Any]] | None:
        """The exporter registered as `name`, with its plugin's settings."""
        registered = self.exporters.get(name)
        if registered is None:
            return None
        return registered.adapter, self.settings.get(registered.plugin, {})

    # -- payment channels --------------------------------------------------------------

    def channel(self, name: str) -> PaymentChannel | None:
        registered = self.channels.get(name)
        return None if registered is None else registered.adapter  # type: ignore[no-any-return,unused-ignore]

    def channel_plugin(self, name: str) -> str:
        registered = self.channels.get(name)
        return name if registered is None else registered.plugin

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
        try:
            result = await asyncio.wait_for(
                getattr(registered.adapter, operation)(request), timeout)
        except ChannelUnavailable as exc:
            log.warning("plugin %s: channel %s %s unavailable: %s", plugin, name, operation, exc)
            return ChannelOutcome(plugin, "unavailable", message=str(exc))
        except TimeoutError:
            log.error("plugin %s: channel %s %s timed out", plugin, name, operation)
            return ChannelOutcome(plugin, "broken", message="timed out")
        except Exception:
            log.exception("plugin %s: channel %s %s raised", plugin, name, operation)
            return ChannelOutcome(plugin, "broken", message="raised")
        if (not isinstance(result, ChannelResult) or not isinstance(result.ok, bool)
                or not isinstance(result.reference, str | None)
                or not isinstance(result.message, str)):
            log.error("plugin %s: channel %s %s returned nonsense", plugin, name, operation)
            return ChannelOutcome(plugin, "broken", message="returned nonsense")
        return ChannelOutcome(plugin, "ok" if result.ok else "declined",
                              result.reference, result.message)

    # -- events ------------------------------------------------------------------------

    def listeners(self, hook_name: str) -> list[str]:
        """The plugins implementing an event hook, in a stable order."""
        return sorted(i.plugin_name for i in getattr(self.pm.hook, hook_name).get_hookimpls())

    async def notify(self, hook_name: str, plugin: str, event: Any) -> None:
        """Deliver one event to one listener; raises whatever the listener raised (the
        outbox retries), `TimeoutError` if it hung."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name == plugin:
                result = _call(impl, event=event, settings=self.settings.get(plugin, {}))
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, self.event_timeout)
                return

    async def aclose(self) -> None:
        """Let adapters that hold resources (HTTP sessions) release them."""
        for registered in [*self.rules.values(), *self.channels.values()]:
            close = getattr(registered.adapter, "close", None)
            if close is not None and inspect.iscoroutinefunction(close):
                try:
                    await close()
                except Exception:
                    log.exception("plugin %s: closing failed", registered.plugin)


def _load_entry_points(
    pm: pluggy.PluginManager, enabled: Sequence[str], disabled: Sequence[str]
) -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if (enabled and ep.name not in enabled) or ep.name in disabled:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = ep.load()
        except Exception as exc:
            raise ConfigError(f"plugin {ep.name} could not be loaded: {exc}") from exc
        pm.register(module, name=ep.name)


def build_plugins(
    config: PluginsConfig, extra: Mapping[str, ModuleType | object] | None = None
) -> Plugins:
    """A fresh plugin manager with the configured plugins (and `extra`, for tests)."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    _load_entry_points(pm, config.enabled, config.disabled)
    for name, plugin in (extra or {}).items():
        pm.register(plugin, name=name)
    pm.check_pending()
    return Plugins(pm, config)
