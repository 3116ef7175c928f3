"""Pure logic of a quote: combine the rules' decisions (deny wins, and the core's
never-list denies whatever the rules say) and work out coverage."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from pos.messages import NEVER_RULE
from pos.plugin.types import BasketLine, LineDecision

# (rule, reason code, params) -> the sentence in the reader's language
Reason = Callable[[str, str, Mapping[str, Any]], str]


@dataclasses.dataclass(frozen=True)
class LineOutcome:
    line: BasketLine
    eligible: bool
    rule: str
    reason: str
    reason_code: str = ""
    reason_params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "line_no": self.line.line_no, "sku": self.line.sku, "gtin": self.line.gtin,
            "category": self.line.category, "description": self.line.description,
            "quantity": self.line.quantity, "unit_price": self.line.unit_price,
            "line_total": self.line.total, "eligible": self.eligible, "rule": self.rule,
            "reason": self.reason, "reason_code": self.reason_code,
            "reason_params": dict(self.reason_params),
        }


def combine(
    rule_order: Sequence[str],
    decisions: Mapping[str, Sequence[LineDecision]],
    lines: Sequence[BasketLine],
    reason: Reason,
    never: Collection[str] = (),
) -> list[LineOutcome]:
    """Per line: a category on the `never` list is refused by the core (rule
    `never_list`), whatever the rules say; otherwise the first rule (in the program's
    order) that denies decides; if none denies, the line is eligible and the first rule's
    reason is kept. `reason` puts the deciding reason into words."""
    outcomes = []
    for i, line in enumerate(lines):
        verdicts = [(rule, decisions[rule][i]) for rule in rule_order]
        denial = next(((r, d) for r, d in verdicts if not d.eligible), None)
        rule, decision = denial if denial is not None else verdicts[0]
        if line.category in never:
            rule, decision = NEVER_RULE, LineDecision(False, "never_paid")
        params = {"description": line.description, "category": line.category,
                  **decision.params}
        outcomes.append(LineOutcome(line, decision.eligible, rule,
                                    reason(rule, decision.code, params), decision.code,
                                    params))
    return outcomes


def eligible_total(outcomes: Sequence[LineOutcome]) -> int:
    return sum(o.line.total for o in outcomes if o.eligible)


def wanted_amount(
    eligible: int, *, per_visit_cap: int | None, unit_price: int | None = None,
    sessions_worth: int | None = None,
) -> int:
    """What the voucher would pay before looking at its balance and period limits: the
    eligible total, capped per visit, and for count-based programs what its sessions are
    worth (`session_cover`), or, where sessions are not counted (an offline kit), one
    session's `unit_price`."""
    amount = eligible
    for cap in (per_visit_cap, unit_price, sessions_worth):
        if cap is not None:
            amount = min(amount, cap)
    return amount


def session_cover(outcomes: Sequence[LineOutcome], unit_price: int,
                  sessions_left: int) -> tuple[int, int]:
    """A program counted in uses: one session per eligible unit, dearest first, each
    covered up to the session price, at most the sessions left. (sessions, amount); the
    same rule as `pos_session_cover` (migration 0200), which decides under the lock."""
    prices = sorted((o.line.unit_price for o in outcomes if o.eligible
                     for _ in range(o.line.quantity)), reverse=True)[:max(sessions_left, 0)]
    return len(prices), sum(min(price, unit_price) for price in prices)


def sessions_for(outcomes: Sequence[LineOutcome], unit_price: int, sessions_left: int,
                 covered: int) -> int:
    """How many sessions `covered` pays: the dearest units first, every unit any of it
    falls on, at least one (as `pos_sessions_for`, migration 0200)."""
    prices = sorted((o.line.unit_price for o in outcomes if o.eligible
                     for _ in range(o.line.quantity)), reverse=True)[:max(sessions_left, 0)]
    used, before = 0, 0
    for price in prices:
        if before >= covered:
            break
        used, before = used + 1, before + min(price, unit_price)
    return max(used, 1)


def covered_amount(wanted: int, available: int) -> int:
    return max(0, min(wanted, available))
