# ruff: noqa: RUF001
"""`meals`: meals at registered canteens (elderly meal assistance).

Canteens are registered as the program's partner merchants; a program may name a subset
in `rule_settings.meals.canteens` (merchant ids), e.g. when a partner also runs a shop.
A program that requires the diner's identity (`require_identity`) is refused by the core
with `identity_check_required` before any rule runs, so this rule never sees an unchecked
diner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.types import (
    BasketLine,
    CategoryRule,
    LineDecision,
    RestrictionRegistry,
    RuleContext,
)


class MealsRule(CategoryRule):
    name = "meals"
    description = "Meals at the program's registered canteens."
    purpose = {"zh-CN": "餐食", "en": "meal"}
    covers = frozenset({"meals"})
    extra_messages = {"not_canteen": {
        "zh-CN": "{description}：本店不是该项目登记的助餐点。",
        "en": "{description}: this shop is not a registered canteen of the program.",
    }}

    def check_line(self, ctx: RuleContext, line: BasketLine) -> LineDecision:
        decision = super().check_line(ctx, line)
        if not decision.eligible:
            return decision
        canteens = ctx.program.settings_for(self.name).get("canteens")
        if canteens and ctx.merchant_id not in {str(c) for c in canteens}:
            return LineDecision(False, "not_canteen")
        return decision


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(MealsRule())
