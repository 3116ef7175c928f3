"""`medicine`: medicines and medical consumables (the elderly medicine voucher). Health
supplements are not medicine; a deployment may add them through the `categories` setting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.offline_rules import OfflineRule
from pos.plugin.types import CategoryRule, RestrictionRegistry, RuleContext, Setting

MEDICAL = frozenset({"medicine", "medical_consumables"})


class MedicineRule(CategoryRule):
    name = "medicine"
    description = "Medicines and medical consumables."
    purpose = {"zh-CN": "药品", "en": "medicine"}
    covers = MEDICAL


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [Setting("categories", tuple, tuple(sorted(MEDICAL)),
                    "Category codes the medicine rule covers.")]


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(MedicineRule())


@hookimpl
def pos_describe_restriction(rule: str, ctx: RuleContext) -> OfflineRule | None:
    return MedicineRule().describe(ctx) if rule == MedicineRule.name else None
