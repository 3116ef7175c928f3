"""An audit row's change as the console shows it (`pos.console.audit_changes`): the fields
an update changed, with money in major units and moments in the service's time zone; the
rows an insert wrote, the first few of many."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pos.console import rendering
from pos.console.audit_changes import SHOWN_ROWS, Change, Field, change_of


def _when(value: str) -> str:
    moment = datetime.fromisoformat(value).astimezone(ZoneInfo("Asia/Shanghai"))
    return moment.strftime("%Y-%m-%d %H:%M")


def _change(operation: str, before: list[dict[str, Any]] | None,
            after: list[dict[str, Any]] | None, count: int = 1, lang: str = "zh-CN"
            ) -> Change:
    return change_of(operation, before, after, count, lang, rendering.money, _when)


PROGRAM = {"id": "p1", "name": "营养餐", "currency": "CNY", "face_value": 30000,
           "per_visit_cap": None, "restrictions": ["nutrition"], "active": True,
           "updated_at": "2026-12-07T16:30:00.123456+00:00"}


def test_an_update_shows_only_what_changed_in_money_and_local_time() -> None:
    changed = {**PROGRAM, "face_value": 50000, "active": False,
               "updated_at": "2026-12-08T01:05:00+00:00"}
    change = _change("update", [PROGRAM], [changed])
    assert change.more == 0
    [row] = change.rows
    assert row.fields == [
        Field("face_value", "300.00 CNY", "500.00 CNY"),
        Field("active", "是", "否"),
        Field("updated_at", "2026-12-08 00:30", "2026-12-08 09:05"),
    ]
    english = _change("update", [PROGRAM], [changed], lang="en")
    assert Field("active", "yes", "no") in english.rows[0].fields


def test_an_update_pairs_rows_by_id_whatever_their_order() -> None:
    one, two = {"id": "a", "status": "draft"}, {"id": "b", "status": "draft"}
    change = _change("update", [one, two], [{**two, "status": "approved"}, one], count=2)
    assert [row.fields for row in change.rows] == [[Field("status", "draft", "approved")], []]


def test_an_insert_shows_its_values_and_counts_the_rows_it_does_not_show() -> None:
    credits = [{"voucher_id": f"v{i}", "amount": 5000, "valid_until": None}
               for i in range(SHOWN_ROWS + 2)]
    change = _change("insert", None, credits, count=1000)
    assert len(change.rows) == SHOWN_ROWS and change.more == 1000 - SHOWN_ROWS
    # A row that names no currency keeps its minor units: no guess at the exponent.
    assert change.rows[0].fields == [Field("voucher_id", None, "v0"),
                                     Field("amount", None, "5000"),
                                     Field("valid_until", None, "—")]


def test_a_delete_shows_what_the_row_had() -> None:
    change = _change("delete", [{"id": "x", "restrictions": ["books", "study"]}], None)
    assert change.rows[0].fields == [Field("id", "x", None),
                                     Field("restrictions", '["books", "study"]', None)]
