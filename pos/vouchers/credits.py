"""Which credits a new voucher receives: a one-off grant and/or a recurring allowance.

Months are the program's local calendar months: a monthly credit starts at local midnight
on the 1st (in Asia/Shanghai that is 16:00 UTC the day before; in Europe/Berlin the offset
changes with daylight saving time, and the wall clock stays at midnight).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclasses.dataclass(frozen=True)
class CreditPlan:
    kind: str
    amount: int
    valid_from: datetime
    valid_until: datetime


def add_months(moment: datetime, months: int) -> datetime:
    """Midnight on day 1 of the month `months` calendar months later, on the same wall
    clock (and so in the same time zone) as `moment`."""
    index = moment.month - 1 + months
    return moment.replace(year=moment.year + index // 12, month=index % 12 + 1, day=1,
                          hour=0, minute=0, second=0, microsecond=0)


def months_touched(valid_from: datetime, valid_until: datetime, zone: ZoneInfo) -> int:
    """How many local calendar months the window [valid_from, valid_until) touches."""
    start, end = valid_from.astimezone(zone), valid_until.astimezone(zone)
    count = (end.year - start.year) * 12 + end.month - start.month
    # An end at local midnight on the 1st does not touch that month.
    on_boundary = (end.day, end.hour, end.minute, end.second, end.microsecond) == (
        1, 0, 0, 0, 0)
    return count + (0 if on_boundary else 1)


def plan_credits(
    *, face_value: int, valid_from: datetime, valid_until: datetime,
    allowance_amount: int | None = None, allowance_count: int = 0,
    allowance_rollover: bool = False, zone: ZoneInfo | None = None,
) -> list[CreditPlan]:
    """Credits for one voucher, oldest first.

    A monthly allowance gives one credit per local calendar month of `zone`, starting with
    the month of `valid_from` (the first month starts at `valid_from` itself). Without
    rollover a month's credit can be spent only within that month; with rollover, until the
    program ends.
    """
    zone = zone or ZoneInfo("Asia/Shanghai")
    plans = []
    if face_value > 0:
        plans.append(CreditPlan("grant", face_value, valid_from, valid_until))
    if allowance_amount:
        month_start = add_months(valid_from.astimezone(zone), 0)
        for i in range(allowance_count):
            start = max(add_months(month_start, i), valid_from)
            if start >= valid_until:
                break
            end = valid_until if allowance_rollover else min(
                add_months(month_start, i + 1), valid_until)
            plans.append(CreditPlan("allowance", allowance_amount, start, end))
    return plans
