"""`any`: the voucher may pay for every line (programs with no purpose restriction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pos import hookimpl
from pos.plugin.offline_rules import OfflineRule
from pos.plugin.types import BasketLine, LineDecision, RestrictionRegistry, RuleContext


class AnyRule:
    name = "any"
    description = "Every line is eligible (the core's never-list still applies)."
    messages = {"any": {"zh-CN": "{description}：本券可用于任何商品。",  # noqa: RUF001
                        "en": "{description}: any goods are allowed by this voucher."},
                "buys": {"zh-CN": "任何商品", "en": "any goods"}}
    program_settings: dict[str, str] = {}  # nothing for a program to set

    def describe(self, ctx: RuleContext) -> OfflineRule:
        return OfflineRule(rule=self.name)

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> list[LineDecision]:
        return [LineDecision(True, "any") for _ in lines]


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(AnyRule())


@hookimpl
def pos_describe_restriction(rule: str, ctx: RuleContext) -> OfflineRule | None:
    return AnyRule().describe(ctx) if rule == AnyRule.name else None
