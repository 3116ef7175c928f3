"""An audit row's change as a person reads it: for each changed table row, the fields that
changed (an update), or the fields it was written with (an insert) or had (a delete), each
value shown as the console shows it: money in major units where the row names its currency,
moments in the service's time zone, yes and no in the reader's language.

The audit log keeps whole rows as JSON (`before`, `after`: the first 100 of a statement,
migration 0301); the page still offers that record as it is.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from pos.console import i18n

# Integer columns of the logged tables that hold money, in minor units.
MONEY_FIELDS = frozenset({
    "amount", "face_value", "per_visit_cap", "remaining", "basket_total", "eligible_total",
    "covered", "remainder", "total", "line_total", "unit_price", "max_till_total",
    "max_per_sale", "redemption_total", "max_amount"})
# Rows past these are counted, not shown (an issuance writes thousands in one statement).
SHOWN_ROWS = 5
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    before: str | None  # None: the row had no such field (an insert)
    after: str | None  # None: the row has no such field any more (a delete)


@dataclasses.dataclass(frozen=True)
class RowChange:
    fields: list[Field]


@dataclasses.dataclass(frozen=True)
class Change:
    rows: list[RowChange]
    more: int  # rows logged but not shown, and rows the log kept only the count of


def change_of(operation: str, before: Sequence[dict[str, Any]] | None,
              after: Sequence[dict[str, Any]] | None, row_count: int, lang: str,
              money: Callable[[int, str], str], when: Callable[[str], str]) -> Change:
    """What `operation` did to the rows `before` and `after` (as the audit log keeps them),
    in `lang`; `money` and `when` are the page's own."""
    text = i18n.translator(lang)

    def shown(name: str, value: Any, row: dict[str, Any]) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return text["yes"] if value else text["no"]
        if isinstance(value, int) and name in MONEY_FIELDS and isinstance(
                row.get("currency"), str):
            return money(value, row["currency"])
        if isinstance(value, str) and _MOMENT.match(value):
            return when(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return str(value)

    olds, news = list(before or []), list(after or [])
    rows: list[RowChange] = []
    if operation == "update":
        by_id = {old.get("id"): old for old in olds if old.get("id") is not None}
        for n, new in enumerate(news[:SHOWN_ROWS]):
            old = by_id.get(new.get("id")) or (olds[n] if n < len(olds) else {})
            rows.append(RowChange([
                Field(name, shown(name, old.get(name), old), shown(name, value, new))
                for name, value in new.items() if old.get(name) != value]))
    else:
        written = news if operation == "insert" else olds
        for row in written[:SHOWN_ROWS]:
            value_of = {name: shown(name, value, row) for name, value in row.items()}
            rows.append(RowChange([
                Field(name, None if operation == "insert" else value,
                      value if operation == "insert" else None)
                for name, value in value_of.items()]))
    return Change(rows, max(row_count - len(rows), 0))
