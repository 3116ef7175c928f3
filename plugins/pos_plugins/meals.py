# ruff: noqa: RUF001
"""`meals`: meals at registered canteens (elderly meal assistance).

Canteens are registered as the program's partner merchants; a program may name a subset
in `rule_settings.meals.canteens` (merchant ids), e.g. when a partner also runs a shop.
A program that requires the diner's identity (`require_identity`) is refused by the core
with `identity_check_required` before any rule runs, so this rule never sees an unchecked
diner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.offline_rules import OfflineRule
from pos.plugin.types import (
    CategoryRule,
    RestrictionRegistry,
    RuleContext,
)


class MealsRule(CategoryRule):
    name = "meals"
    description = "Meals at the program's registered canteens."
    purpose = {"zh-CN": "餐食", "en": "meal"}
    covers = frozenset({"meals"})
    program_settings = {**CategoryRule.program_settings, "canteens": "merchants"}
    extra_messages = {"not_this_shop": {
        "zh-CN": "{description}：本店不是该项目登记的助餐点。",
        "en": "{description}: this shop is not a registered canteen of the program.",
    }}

    def describe(self, ctx: RuleContext) -> OfflineRule:
        canteens = ctx.program.settings_for(self.name).get("canteens")
        return dataclasses.replace(
            super().describe(ctx),
            merchants=tuple(sorted(str(c) for c in canteens)) if canteens else None)

@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(MealsRule())


@hookimpl
def pos_describe_restriction(rule: str, ctx: RuleContext) -> OfflineRule | None:
    return MealsRule().describe(ctx) if rule == MealsRule.name else None
