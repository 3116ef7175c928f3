"""Which credits a new voucher receives: a one-off grant and/or a recurring allowance."""

from __future__ import annotations

import dataclasses
from datetime import datetime


@dataclasses.dataclass(frozen=True)
class CreditPlan:
    kind: str
    amount: int
    valid_from: datetime
    valid_until: datetime


def add_months(moment: datetime, months: int) -> datetime:
    """The same instant `months` calendar months later, on day 1 (allowances start monthly)."""
    index = moment.month - 1 + months
    return moment.replace(year=moment.year + index // 12, month=index % 12 + 1, day=1)


def plan_credits(
    *, face_value: int, valid_from: datetime, valid_until: datetime,
    allowance_amount: int | None = None, allowance_count: int = 0,
    allowance_rollover: bool = False,
) -> list[CreditPlan]:
    """Credits for one voucher, oldest first.

    A monthly allowance gives one credit per calendar month starting with the month of
    `valid_from` (the first month starts at `valid_from` itself). Without rollover a month's
    credit can be spent only within that month; with rollover, until the program ends.
    """
    plans = []
    if face_value > 0:
        plans.append(CreditPlan("grant", face_value, valid_from, valid_until))
    if allowance_amount:
        month_start = valid_from.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        for i in range(allowance_count):
            start = max(add_months(month_start, i), valid_from)
            if start >= valid_until:
                break
            end = valid_until if allowance_rollover else min(
                add_months(month_start, i + 1), valid_until)
            plans.append(CreditPlan("allowance", allowance_amount, start, end))
    return plans
