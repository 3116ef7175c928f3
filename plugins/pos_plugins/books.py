# ruff: noqa: RUF001
"""`books`: books only. A line with a barcode must carry a valid ISBN-13 (prefix 978 or
979, check digit right) to count as a book, so a notebook scanned under "books" is not
paid for; a line without a barcode (a second-hand book) is judged by its category."""

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


def is_isbn13(code: str) -> bool:
    """An ISBN-13 (Bookland EAN): 13 digits, prefix 978/979, weights 1,3,1,3... sum to 0
    mod 10."""
    if len(code) != 13 or not code.isdigit() or code[:3] not in ("978", "979"):
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(code))
    return total % 10 == 0


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

    def check_line(self, ctx: RuleContext, line: BasketLine) -> LineDecision:
        decision = super().check_line(ctx, line)
        if decision.eligible and line.gtin is not None and not is_isbn13(line.gtin):
            return LineDecision(False, "not_isbn", {"gtin": line.gtin})
        return decision


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(BooksRule())
