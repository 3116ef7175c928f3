"""Loading plugins and taking their registrations, once per app at start-up.

Plugins (built-in ones included) are found through the `pos` entry-point group; an allow
list (`plugins.enabled`, empty = all) and a block list (`plugins.disabled`) from the
configuration choose which load. `Registrations` resolves each plugin's settings and
collects what the registration hooks add; anything malformed stops the start-up with a
`ConfigError` naming the plugin. The calls the core makes afterwards live in
`pos.plugin.manager`.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

import pluggy

from pos.config import parse_bool
from pos.errors import ConfigError
from pos.messages import words
from pos.plugin.types import Setting

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
    "settlement exporter": ("refuse", "export"),
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
        if self._kind == "restriction rule":
            _check_messages(self._plugin, name, getattr(adapter, "messages", None))
        if name in self._into:
            other = self._into[name].plugin
            raise ConfigError(
                f"{self._kind} {name!r} is registered by both {other} and {self._plugin}"
            )
        self._into[name] = Registered(self._plugin, adapter)


def _check_messages(plugin: str, rule: str, messages: Any) -> None:
    """A rule declares every reason it gives in Chinese and English (`messages`)."""
    if not isinstance(messages, Mapping) or not messages:
        raise ConfigError(f"plugin {plugin} registered the rule {rule!r} without messages "
                          "(its reasons in zh-CN and en)")
    for code, texts in messages.items():
        for lang in ("zh-CN", "en"):
            text = texts.get(lang) if isinstance(texts, Mapping) else None
            if not isinstance(code, str) or not isinstance(text, str) or not text.strip():
                raise ConfigError(f"plugin {plugin}: the rule {rule!r} has no {lang} text "
                                  f"for its reason {code!r}")
            if not _named_fields_only(text):
                raise ConfigError(f"plugin {plugin}: the rule {rule!r} has a {lang} text "
                                  f"for {code!r} that is not a template of named fields "
                                  f"({{name}}): {text!r}")


def _named_fields_only(template: str) -> bool:
    """A reason's template fills only plain named fields (`{description}`), so rendering
    it can never fail nor reach into an object."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template)
                  if name is not None]
    except ValueError:
        return False
    return all(name.isidentifier() for name in fields)


def call_hookimpl(impl: Any, **available: Any) -> Any:
    """Call a hook implementation with the arguments it asks for (pluggy lets an
    implementation take fewer arguments than its spec)."""
    return impl.function(**{name: available[name] for name in impl.argnames})


def _convert(setting: Setting, value: Any, plugin: str) -> Any:
    kind = setting.type
    try:
        if kind is bool:
            return parse_bool(value)
        if kind in (list, tuple) and isinstance(value, str):
            return kind(v.strip() for v in value.split(",") if v.strip())
        if kind in (int, float) and isinstance(value, bool):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"[plugins.{plugin}] {setting.key}: {value!r} is not a {kind.__name__}"
        ) from None


class Registrations:
    """Every loaded plugin's settings and the adapters it registered, by name."""

    def __init__(self, pm: pluggy.PluginManager, tables: Mapping[str, Mapping[str, Any]]
                 ) -> None:
        self.pm = pm
        self.declared: dict[str, list[Setting]] = {}
        self.settings: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, Registered] = {}
        self.channels: dict[str, Registered] = {}
        self.exporters: dict[str, Registered] = {}
        self._resolve_settings(tables)
        self._register("pos_register_restrictions", "restriction rule", self.rules)
        self._register("pos_register_payment_channels", "payment channel", self.channels)
        self._register("pos_register_settlement_exporters", "settlement exporter",
                       self.exporters)

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
                call_hookimpl(impl, register=_Registry(plugin, kind, into),
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


def installed_plugin_names() -> set[str]:
    """The names of the plugins installed under the entry-point group, loaded or not."""
    return {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


def check_plugin_names(enabled: Sequence[str], disabled: Sequence[str],
                       tables: Mapping[str, object], known: set[str]) -> None:
    """Refuse a plugin name the configuration mentions that no installed plugin has: a typo
    in `enabled` would leave a rule out, in `disabled` leave a plugin running, and in a
    `[plugins.<name>]` table leave its settings unread, all without a word."""
    for key, names in (("enabled", enabled), ("disabled", disabled)):
        unknown = sorted(set(names) - known)
        if unknown:
            raise ConfigError(words("配置项 [plugins] {key} 中的 {names} 不是已安装的插件",
                                    "[plugins] {key} names no installed plugin: {names}",
                                    key=key, names=", ".join(unknown)))
    for name in sorted(set(tables) - known):
        raise ConfigError(words("配置中的 [plugins.{name}] 不是已安装的插件",
                                "[plugins.{name}] in the configuration names no installed "
                                "plugin", name=name))


def load_entry_points(
    pm: pluggy.PluginManager, enabled: Sequence[str], disabled: Sequence[str]
) -> None:
    """Register the installed plugins the allow and block lists let through."""
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
