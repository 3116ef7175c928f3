"""The types a plugin sees: basket lines, rule decisions, adapters' protocols, settings.

Everything here is plain data or a Protocol, so a plugin depends on this module and on
`pos.hookimpl` only, never on the service's internals.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from pos.plugin.offline_rules import OfflineRule, decide_line


@dataclasses.dataclass(frozen=True)
class BasketLine:
    """One line of the till's basket. Money in integer minor units."""

    line_no: int
    sku: str
    category: str
    description: str
    quantity: int
    unit_price: int
    gtin: str | None = None

    @property
    def total(self) -> int:
        return self.quantity * self.unit_price


@dataclasses.dataclass(frozen=True)
class ProgramView:
    """What a rule may know of the program: no beneficiary data."""

    id: str
    name: str
    currency: str
    restrictions: tuple[str, ...]
    rule_settings: Mapping[str, Any]
    require_identity: bool

    def settings_for(self, rule: str) -> Mapping[str, Any]:
        """The program's own settings for one rule (e.g. `categories.allowed`)."""
        value = self.rule_settings.get(rule, {})
        return value if isinstance(value, Mapping) else {}


@dataclasses.dataclass(frozen=True)
class ApprovedProducts:
    """Which of the asked GTINs are on a program's current approved product list.

    `version` is the list's version, `None` when the program has no list yet (then
    `listed` is empty)."""

    version: int | None
    listed: frozenset[str]


class RuleReads(Protocol):
    """The data the core keeps that a rule may read, and nothing else: read-only questions,
    each answered from one snapshot. The service passes its own in `RuleContext.reads`."""

    async def approved_products(self, program_id: str, gtins: Sequence[str] | None
                                ) -> ApprovedProducts:
        """The program's current approved product list, as far as `gtins` are concerned
        (`None`: the whole list, for a till's offline kit)."""
        ...


@dataclasses.dataclass(frozen=True)
class RuleContext:
    """Everything a restriction rule is told about the request it decides on."""

    program: ProgramView
    merchant_id: str
    till_id: str
    identity_confirmed: bool
    settings: Mapping[str, Any]  # the plugin's own table of config.toml
    # What the rule may read of the core's data. The service always passes it; `None` only
    # in a context built by hand for a rule that reads nothing (a unit test).
    reads: RuleReads | None = None


# A rule's sentences: reason code -> {"zh-CN": template, "en": template}. Both languages
# are required (a rule without its Chinese text stops the start-up). Templates use
# `str.format` fields: `{description}` and `{category}` are the line's (the category shown
# with the taxonomy's label in the reader's language), any other field comes from the
# decision's `params`; a field ending in `_category` is a category code too, one ending in
# `amount` is integer minor units.
Messages = Mapping[str, Mapping[str, str]]


@dataclasses.dataclass(frozen=True)
class LineDecision:
    """A rule's verdict on one line: `code` names one of the rule's `messages`, `params`
    fill it (small and JSON-able); the core puts it into the reader's language. `detail` is
    stored with the redemption line under the rule's name."""

    eligible: bool
    code: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    detail: Mapping[str, Any] | None = None


@runtime_checkable
class RestrictionRule(Protocol):
    """Decides, line by line, what a program's voucher may pay for, and says why in the
    sentences it declares in `messages` (zh-CN and en).

    A rule may also declare the keys a program may set for it in
    `rule_settings.<name>`, as a class attribute `program_settings`: a mapping of key to
    kind (`"categories"`: a list of category codes of docs/categories.md, checked when the
    program is defined; `"merchants"`: a list of merchant ids; `"any"`: not checked). A
    program naming a key the rule does not declare is refused; a rule without the
    attribute takes any keys.
    """

    name: str
    description: str

    @property
    def messages(self) -> Messages:
        """Every reason `decide` may give: code -> {"zh-CN": ..., "en": ...}. The code
        `buys`, if declared, is no reason but what the rule pays for in plain words (the
        holder's page shows it when the rule has no `buys()` method)."""
        ...

    async def decide(
        self, ctx: RuleContext, lines: Sequence[BasketLine]
    ) -> Sequence[LineDecision]:
        """One decision per line, in the order of `lines`."""
        ...


@dataclasses.dataclass(frozen=True)
class ChannelRequest:
    """A movement of money through a payment channel."""

    channel: str
    amount: int
    currency: str
    idempotency_key: str
    redemption_id: str | None = None
    merchant_id: str | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ChannelResult:
    """What the channel did. `reference` is the provider's own id, when it has one."""

    ok: bool
    reference: str | None = None
    message: str = ""


@runtime_checkable
class PaymentChannel(Protocol):
    """Moves money around a redemption: the basket's remainder, refunds, merchant payouts."""

    name: str
    description: str

    async def collect(self, request: ChannelRequest) -> ChannelResult:
        """Take the remainder of a partly covered basket from the holder."""
        ...

    async def refund(self, request: ChannelRequest) -> ChannelResult:
        """Give a collected remainder back (the redemption was voided)."""
        ...

    async def payout(self, request: ChannelRequest) -> ChannelResult:
        """Reimburse a merchant."""
        ...


@dataclasses.dataclass(frozen=True)
class Setting:
    """A configuration key a plugin declares for its own `[plugins.<name>]` table."""

    key: str
    type: type
    default: Any
    description: str


class ChannelUnavailable(Exception):
    """Raised by a channel when it cannot tell whether the provider acted (timeouts, no
    answer after its retries). The core then reverses the call and writes nothing."""


@dataclasses.dataclass(frozen=True)
class WebhookRequest:
    """An inbound call from a payment provider, as received (body unparsed). `headers` is
    case-insensitive, as HTTP headers are (proxies may lower-case them)."""

    channel: str
    headers: Mapping[str, str]
    body: bytes


@dataclasses.dataclass(frozen=True)
class WebhookEvent:
    """A provider's event, after the channel verified its signature and freshness.

    `event_id` is the provider's own id (duplicates share it); `fingerprint` identifies
    this exact signed delivery, so the core can refuse a byte-for-byte replay.
    `reference` is the provider's payment id the event is about, if any.
    """

    event_id: str
    type: str
    fingerprint: str
    reference: str | None = None
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class WebhookRejected(Exception):
    """Raised by a channel's `verify_webhook` for a call it will not accept."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@runtime_checkable
class WebhookChannel(Protocol):
    """A channel whose provider calls back (`POST /v1/channels/<name>/webhooks`)."""

    name: str

    def verify_webhook(
        self, request: WebhookRequest
    ) -> WebhookEvent | Awaitable[WebhookEvent]:
        """Check signature and freshness; return the event or raise `WebhookRejected`.
        May be `async def` when checking needs I/O (fetching the provider's keys); it then
        has `plugins.timeout_seconds`, as every other plugin call."""
        ...


@dataclasses.dataclass(frozen=True)
class RedemptionEvent:
    """What event listeners (`pos_redemption_committed`, `pos_redemption_voided`) receive.

    `event_id` is stable across redeliveries: a listener that may see an event twice
    (it crashed after acting, before the outbox recorded it) uses it to act once.
    `redemption` is the redemption as stored (ids, amounts, channel, lines with each
    line's deciding rule and reason); it holds no beneficiary data.
    """

    event_id: str
    kind: str  # "redemption.committed" or "redemption.voided"
    occurred_at: str  # ISO 8601
    redemption: Mapping[str, Any]
    program: ProgramView


class RestrictionRegistry(Protocol):
    def add(self, rule: RestrictionRule) -> None: ...


class ChannelRegistry(Protocol):
    def add(self, channel: PaymentChannel) -> None: ...


Lines = Sequence[BasketLine]
Decisions = Sequence[LineDecision]


# -------------------------------------------------------------------------------------------
# a helper for the commonest kind of rule


def _texts(zh: str, en: str) -> Mapping[str, str]:
    return {"zh-CN": zh, "en": en}


class CategoryRule:
    """A rule that covers a fixed set of category codes (see docs/categories.md).

    Most purpose rules are this: "books only", "baby goods only". A subclass sets `name`,
    `description`, `purpose` (how the cashier names the voucher, in each language:
    `{"zh-CN": "营养", "en": "nutrition"}`) and `covers`; the plugin's
    settings may replace `covers` (key `categories`) and add codes never paid for (`never`);
    a program may narrow the set (`rule_settings.<name>.only`) or exclude codes from it
    (`rule_settings.<name>.exclude`, e.g. sweets from a nutrition voucher).

    It decides through its own description (`describe`, an `OfflineRule`), the same data a
    till applies offline, so online and offline cannot disagree. Override `describe` to
    check more than the category (the books rule asks for ISBNs, meals for canteens) and
    `sentence` for a reason of your own.
    """

    name: str = ""
    description: str = ""
    purpose: Mapping[str, str] = {}
    covers: frozenset[str] = frozenset()
    program_settings: Mapping[str, str] = {"only": "categories", "exclude": "categories"}
    # A subclass adds its own reasons here (the books rule: a barcode that is no ISBN).
    extra_messages: Messages = {}

    @functools.cached_property
    def messages(self) -> Messages:
        """The four reasons of a category rule in both languages, naming the purpose."""
        base = {
            "never": _texts("{description}：任何券都不能用于{category}。",  # noqa: RUF001
                            "{description}: no voucher pays for {category}."),
            "excluded": _texts("{description}：本项目不支付{category}。",  # noqa: RUF001
                               "{description}: this program does not pay for {category}."),
            "covered": _texts("{description}：{category}可用本{purpose}券支付。",  # noqa: RUF001
                              "{description}: covered by this {purpose} voucher "
                              "({category})."),
            "not_covered": _texts("{description}：本{purpose}券不支付{category}。",  # noqa: RUF001
                                  "{description}: this {purpose} voucher does not pay for "
                                  "{category}."),
        }
        return {code: {lang: text.replace("{purpose}", self.purpose[lang])
                       for lang, text in texts.items() if lang in self.purpose}
                for code, texts in base.items()} | dict(self.extra_messages)

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> list[LineDecision]:
        rule = self.describe(ctx)
        return [self.sentence(decide_line(rule, line, ctx.merchant_id), line)
                for line in lines]

    def buys(self, program: ProgramView, settings: Mapping[str, Any]) -> frozenset[str]:
        """The category codes this rule pays for in `program` (for the holder's page)."""
        ctx = RuleContext(program, "", "", False, settings)
        excluded = {str(c) for c in program.settings_for(self.name).get("exclude", [])}
        return self.covered(ctx) - excluded - set(settings.get("never", ()))

    def covered(self, ctx: RuleContext) -> frozenset[str]:
        configured = ctx.settings.get("categories")
        base = frozenset(configured) if configured else self.covers
        only = ctx.program.settings_for(self.name).get("only")
        return base & frozenset(str(c) for c in only) if only else base

    def describe(self, ctx: RuleContext) -> OfflineRule:
        """This rule's decision for this program, as data."""
        program = ctx.program.settings_for(self.name)
        return OfflineRule(
            rule=self.name, purpose=self.purpose.get("en", ""),
            allowed=tuple(sorted(self.covered(ctx))),
            denied=tuple(sorted(str(c) for c in ctx.settings.get("never", ()))),
            excluded=tuple(sorted(str(c) for c in program.get("exclude", []))))

    def sentence(self, why: str, line: BasketLine) -> LineDecision:
        """One line's decision from its `why` code (see `pos.plugin.offline_rules`): the
        code is the reason, which `messages` words in each language."""
        return LineDecision(why == "covered", why)
