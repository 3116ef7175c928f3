"""`nutrition`: milk, dairy, infant formula and ordinary food; never alcohol or tobacco.

A program narrows it further in its `rule_settings.nutrition`: `exclude` (e.g. sweets, for
the nutrition growth voucher: milk and sweets in one basket, only the milk is covered) or
`only` (e.g. milk and milk powder).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.offline_rules import OfflineRule
from pos.plugin.types import CategoryRule, RestrictionRegistry, RuleContext, Setting
from pos.taxonomy import RESTRICTED, in_group


class NutritionRule(CategoryRule):
    name = "nutrition"
    description = "Milk, dairy, infant formula and ordinary food; never alcohol or tobacco."
    purpose = {"zh-CN": "营养", "en": "nutrition"}
    covers = in_group("food", "dairy")


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [
        Setting("categories", tuple, tuple(sorted(NutritionRule.covers)),
                "Category codes the nutrition rule covers."),
        Setting("never", tuple, tuple(sorted(RESTRICTED)),
                "Category codes it never covers, whatever a program says."),
    ]


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(NutritionRule())


@hookimpl
def pos_describe_restriction(rule: str, ctx: RuleContext) -> OfflineRule | None:
    return NutritionRule().describe(ctx) if rule == NutritionRule.name else None
