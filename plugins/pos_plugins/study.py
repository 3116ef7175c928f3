"""`study`: stationery, school bags and sports goods (wish vouchers for schoolchildren)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.offline_rules import OfflineRule
from pos.plugin.types import CategoryRule, RestrictionRegistry, RuleContext, Setting

STUDY_GOODS = frozenset({"stationery", "school_bags", "sports_goods"})


class StudyRule(CategoryRule):
    name = "study"
    description = "Stationery, school bags and sports goods."
    purpose = {"zh-CN": "学习用品", "en": "study supplies"}
    covers = STUDY_GOODS


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [Setting("categories", tuple, tuple(sorted(STUDY_GOODS)),
                    "Category codes the study rule covers (add books, art_supplies, ...).")]


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(StudyRule())


@hookimpl
def pos_describe_restriction(rule: str, ctx: RuleContext) -> OfflineRule | None:
    return StudyRule().describe(ctx) if rule == StudyRule.name else None
