"""Every hook of the `pos` plugin system.

Hooks are synchronous and register adapters; the adapters do their I/O in async methods
(pluggy does not await). No hook is `firstresult`: the core collects every plugin's
contribution and combines them deterministically (for restriction rules, deny wins).
Registration hooks are called once per plugin, each with a registry bound to that plugin,
so everything registered records which plugin it came from, and with that plugin's own
settings (its `[plugins.<name>]` table, checked against what it declared).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from pos.plugin.exporter_types import ExporterRegistry
from pos.plugin.types import ChannelRegistry, RedemptionEvent, RestrictionRegistry, Setting

if TYPE_CHECKING:
    from pos.plugin.offline_rules import OfflineRule
    from pos.plugin.types import RuleContext

hookspec = pluggy.HookspecMarker("pos")
hookimpl = pluggy.HookimplMarker("pos")


# -------------------------------------------------------------------------------------------
# configuration


@hookspec
def pos_declare_settings() -> Sequence[Setting] | None:
    """Declare the keys of this plugin's `[plugins.<name>]` table.

    Return a sequence of `Setting(key, type, default, description)`; `None` means the plugin
    takes no settings. Keys a plugin did not declare are refused at start-up, values are
    converted to the declared type, missing ones take the default.
    """


# -------------------------------------------------------------------------------------------
# registration: called once per plugin at start-up


@hookspec
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    """Register restriction rules with `register.add(rule)`.

    A rule has a unique `name` (what programs list in `restrictions`), a `description`, and
    an async `decide(ctx, lines)` returning one `LineDecision` per basket line. `settings`
    is this plugin's configuration. Returns nothing.
    """


@hookspec
def pos_register_payment_channels(register: ChannelRegistry, settings: Mapping[str, Any]) -> None:
    """Register payment channels with `register.add(channel)`.

    A channel has a unique `name` (what a till names as `channel` for the remainder) and
    async `collect`, `refund` and `payout` methods taking a `ChannelRequest`. `settings` is
    this plugin's configuration. Returns nothing.
    """


@hookspec
def pos_describe_restriction(
    rule: str, ctx: RuleContext
) -> OfflineRule | Awaitable[OfflineRule | None] | None:
    """Describe the restriction rule named `rule` for one program as data a till applies
    offline (`pos.plugin.offline_rules.OfflineRule`: allowed, denied and excluded
    categories, shops, an ISBN check or an approved product list with its version).

    Called for the plugin that registered `rule` only, with `ctx.program` the program and
    `ctx.settings` that plugin's settings, while an offline kit is built. Return the
    description (or an awaitable of it, to read data); `None` means the rule cannot be
    described, so it and every program that uses it are online-only. A rule that describes
    itself must decide online through `pos.plugin.offline_rules.decide_line` on the same
    description, so the till and the service cannot disagree.
    """


# -------------------------------------------------------------------------------------------
# events: after a change committed, delivered from the outbox by a background task


@hookspec
def pos_redemption_committed(
    event: RedemptionEvent, settings: Mapping[str, Any]
) -> Awaitable[None] | None:
    """A redemption was committed (notifications, analytics, a program's own system).

    Called by the outbox's background task, never on the till's request path, at least once
    per event: a listener that fails (raises, or its awaitable raises or outlives
    `plugins.event_timeout_seconds`) is called again later with the same `event.event_id`,
    with growing pauses; once it succeeds it is not called for that event again. Return an
    awaitable to do I/O (it is awaited), or `None` when there is nothing to do.
    `settings` is this plugin's configuration.
    """


@hookspec
def pos_redemption_voided(
    event: RedemptionEvent, settings: Mapping[str, Any]
) -> Awaitable[None] | None:
    """A redemption was voided and its value restored. Delivered exactly as
    `pos_redemption_committed`; `event.redemption["status"]` is `"voided"`. Returns an
    awaitable or `None`, as there.
    """


# -------------------------------------------------------------------------------------------
# settlement exporters: file formats for paying merchants


@hookspec
def pos_register_settlement_exporters(
    register: ExporterRegistry, settings: Mapping[str, Any]
) -> None:
    """Register settlement file formats with `register.add(exporter)`.

    An exporter (`pos.plugin.exporter_types.SettlementExporter`) has a unique `name` (what
    `GET /v1/settlements/{id}/export/{name}` asks for), a `media_type`, an `extension`, a
    `refuse(batch, settings)` returning why a batch cannot be exported (or `None`), and an
    `export(ctx)` async generator yielding the file's bytes while it reads the batch's lines
    in chunks. `settings` is this plugin's configuration. Returns nothing.
    """
