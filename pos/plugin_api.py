"""The types a plugin sees: basket lines, rule decisions, adapters' protocols, settings.

Everything here is plain data or a Protocol, so a plugin depends on this module and on
`pos.hookimpl` only, never on the service's internals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable


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
class RuleContext:
    """Everything a restriction rule is told about the request it decides on."""

    program: ProgramView
    merchant_id: str
    till_id: str
    identity_confirmed: bool
    settings: Mapping[str, Any]  # the plugin's own table of config.toml
    db: Any = None  # the asyncpg pool, for rules that read program data (read-only)


@dataclasses.dataclass(frozen=True)
class LineDecision:
    """A rule's verdict on one line, with a reason a cashier can read aloud."""

    eligible: bool
    reason: str
    detail: Mapping[str, Any] | None = None


@runtime_checkable
class RestrictionRule(Protocol):
    """Decides, line by line, what a program's voucher may pay for."""

    name: str
    description: str

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


class RestrictionRegistry(Protocol):
    def add(self, rule: RestrictionRule) -> None: ...


class ChannelRegistry(Protocol):
    def add(self, channel: PaymentChannel) -> None: ...


Lines = Sequence[BasketLine]
Decisions = Sequence[LineDecision]
