# ruff: noqa: RUF001
"""`books`: books only. A line with a barcode must carry a valid ISBN-13 (prefix 978 or
979, check digit right) to count as a book, so a notebook scanned under "books" is not
paid for; a line without a barcode (a second-hand book) is judged by its category."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.offline_rules import OfflineRule, is_isbn13
from pos.plugin.types import (
    BasketLine,
    CategoryRule,
    LineDecision,
    RestrictionRegistry,
    RuleContext,
)

__all__ = ["BooksRule", "is_isbn13"]


class BooksRule(CategoryRule):
    name = "books"
    description = "Books only; a barcode must be a valid ISBN-13."
    purpose = {"zh-CN": "图书", "en": "book"}
    covers = frozenset({"books"})
    extra_messages = {"not_isbn": {
        "zh-CN": "{description}：条码 {gtin} 不是有效的 ISBN，不能按图书支付。",
        "en": "{description}: the barcode {gtin} is not a valid ISBN, so this is not paid "
              "for as a book.",
    }}

    def describe(self, ctx: RuleContext) -> OfflineRule:
        return dataclasses.replace(super().describe(ctx), gtin_check="isbn13")

    def sentence(self, why: str, line: BasketLine) -> LineDecision:
        if why == "not_isbn":
            return LineDecision(False, "not_isbn", {"gtin": line.gtin})
        return super().sentence(why, line)


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(BooksRule())


@hookimpl
def pos_describe_restriction(rule: str, ctx: RuleContext) -> OfflineRule | None:
    return BooksRule().describe(ctx) if rule == BooksRule.name else None
