"""`baby`: infant formula, diapers, baby clothing, shoes and hats (the baby voucher given
to families of newborns). A program may `exclude` or allow `only` some of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.offline_rules import OfflineRule
from pos.plugin.types import CategoryRule, RestrictionRegistry, RuleContext, Setting

BABY_GOODS = frozenset(
    {"infant_formula", "diapers", "baby_clothing", "baby_shoes", "baby_hats"})


class BabyRule(CategoryRule):
    name = "baby"
    description = "Infant formula, diapers, baby clothing, shoes and hats."
    purpose = {"zh-CN": "母婴用品", "en": "baby goods"}
    covers = BABY_GOODS


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [Setting("categories", tuple, tuple(sorted(BABY_GOODS)),
                    "Category codes the baby rule covers (add baby_food, baby_care, ...).")]


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(BabyRule())


@hookimpl
def pos_describe_restriction(rule: str, ctx: RuleContext) -> OfflineRule | None:
    return BabyRule().describe(ctx) if rule == BabyRule.name else None
