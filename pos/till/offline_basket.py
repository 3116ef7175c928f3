"""Pure logic of an offline sale, as the tablet's `offline.js` does it and the service
re-does it for each forwarded sale: the kit's rule descriptions decide each basket line
(deny wins), then the voucher covers the eligible total up to the per-visit cap, the
session price and the program's offline limit per sale.

Also the worst case the docs state: how much one voucher can be overspent offline.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pos.plugin.offline_rules import OfflineRule, decide_lines
from pos.plugin.types import BasketLine, LineDecision
from pos.till import eligibility


@dataclasses.dataclass(frozen=True)
class OfflineQuote:
    outcomes: list[eligibility.LineOutcome]
    eligible_total: int
    covered: int


def line_decisions(rules: Sequence[OfflineRule], lines: Sequence[BasketLine],
                   merchant_id: str) -> dict[str, list[LineDecision]]:
    """Each rule's decisions, with a plain reason naming the rule and its `why` code."""
    out = {}
    for rule in rules:
        out[rule.rule] = [
            LineDecision(why == "covered", f"{line.description}: {why.replace('_', ' ')} "
                         f"({rule.rule}, decided offline).")
            for line, why in zip(lines, decide_lines(rule, lines, merchant_id), strict=True)]
    return out


def quote(program: Mapping[str, Any], lines: Sequence[BasketLine], merchant_id: str
          ) -> OfflineQuote:
    """`program` is one program entry of an offline kit."""
    rules = [OfflineRule.from_dict(r) for r in program["rules"]]
    decisions = line_decisions(rules, lines, merchant_id)
    # Offline decisions carry their sentence as their code (no rule's messages here).
    outcomes = eligibility.combine([r.rule for r in rules], decisions, lines,
                                   lambda rule, code, params: code)
    eligible = eligibility.eligible_total(outcomes)
    wanted = eligibility.wanted_amount(eligible, per_visit_cap=program.get("per_visit_cap"),
                                       unit_price=program.get("unit_price"))
    return OfflineQuote(outcomes, eligible, min(wanted, int(program["max_per_sale"])))


def worst_case_shortfall(*, max_per_sale: int, max_till_total: int,
                         max_offline_seconds: int, tills: int) -> int:
    """The most one voucher can be overspent offline, in minor units.

    Each till sells to a voucher at most once per local day while offline, each sale at
    most `max_per_sale`; an offline stretch of `max_offline_seconds` touches at most
    ceil(seconds / 86400) + 1 local days (it may start just before midnight). A till
    takes at most `max_till_total` in all before it must reconnect. Every one of those
    sales could meet a voucher already spent to zero online, so this is the bound.
    """
    days = math.ceil(max_offline_seconds / 86400) + 1
    per_till = min(max_per_sale * days, max_till_total)
    return per_till * tills
