# ruff: noqa: RUF001
"""`categories`: only lines whose category code the program allows.

The program lists its allowed codes (see docs/categories.md) in
`rule_settings.categories.allowed`, and may deny some explicitly in `denied`; the plugin's
own `always_denied` setting names codes no program may pay for (alcohol, tobacco, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pos import hookimpl
from pos.plugin.offline_rules import OfflineRule, decide_line
from pos.plugin.types import (
    BasketLine,
    LineDecision,
    ProgramView,
    RestrictionRegistry,
    RuleContext,
    Setting,
)

NEVER = ("alcohol", "tobacco", "gift_card", "lottery")


class CategoriesRule:
    name = "categories"
    description = "Lines whose category the program allows; never alcohol, tobacco or gift cards."
    program_settings = {"allowed": "categories", "denied": "categories"}
    messages = {
        "never": {"zh-CN": "{description}：本券从不支付{category}。",
                  "en": "{description}: this voucher never pays for {category}."},
        "covered": {"zh-CN": "{description}：{category}可用本券支付。",
                    "en": "{description}: covered by this voucher ({category})."},
        "not_covered": {"zh-CN": "{description}：本券不支付{category}。",
                        "en": "{description}: this voucher does not pay for {category}."},
    }

    def buys(self, program: ProgramView, settings: Mapping[str, Any]) -> frozenset[str]:
        """What the program allows, less what it or the plugin denies (the holder's page)."""
        mine = program.settings_for(self.name)
        return (frozenset(str(c) for c in mine.get("allowed", []))
                - {str(c) for c in mine.get("denied", [])} - set(settings["always_denied"]))

    def describe(self, ctx: RuleContext) -> OfflineRule:
        program = ctx.program.settings_for(self.name)
        denied = {str(c) for c in program.get("denied", [])} | set(ctx.settings["always_denied"])
        return OfflineRule(rule=self.name, allowed=tuple(sorted(str(c) for c in program.get(
            "allowed", []))), denied=tuple(sorted(denied)))

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> list[LineDecision]:
        rule = self.describe(ctx)
        decisions = []
        for line in lines:
            why = decide_line(rule, line, ctx.merchant_id)
            decisions.append(LineDecision(why == "covered", why if why in self.messages
                                          else "not_covered"))
        return decisions


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [Setting("always_denied", tuple, NEVER,
                    "Category codes no program may pay for, whatever it allows.")]


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(CategoriesRule())


@hookimpl
def pos_describe_restriction(rule: str, ctx: RuleContext) -> OfflineRule | None:
    return CategoriesRule().describe(ctx) if rule == CategoriesRule.name else None
