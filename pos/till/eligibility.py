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
    eligible: int, *, per_visit_cap: int | None, unit_price: int | None
) -> int:
    """What the voucher would pay before looking at its balance: the eligible total, capped
    per visit, and for count-based programs at most one session's price."""
    amount = eligible
    if per_visit_cap is not None:
        amount = min(amount, per_visit_cap)
    if unit_price is not None:
        amount = min(amount, unit_price)
    return amount


def covered_amount(wanted: int, available: int) -> int:
    return max(0, min(wanted, available))
