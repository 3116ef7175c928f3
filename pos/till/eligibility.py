"""Pure logic of a quote: combine the rules' decisions (deny wins) and work out coverage."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from pos.plugin.types import BasketLine, LineDecision


@dataclasses.dataclass(frozen=True)
class LineOutcome:
    line: BasketLine
    eligible: bool
    rule: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {
            "line_no": self.line.line_no, "sku": self.line.sku, "gtin": self.line.gtin,
            "category": self.line.category, "description": self.line.description,
            "quantity": self.line.quantity, "unit_price": self.line.unit_price,
            "line_total": self.line.total, "eligible": self.eligible, "rule": self.rule,
            "reason": self.reason,
        }


def combine(
    rule_order: Sequence[str],
    decisions: Mapping[str, Sequence[LineDecision]],
    lines: Sequence[BasketLine],
) -> list[LineOutcome]:
    """Per line: the first rule (in the program's order) that denies decides; if none
    denies, the line is eligible and the first rule's reason is kept."""
    outcomes = []
    for i, line in enumerate(lines):
        verdicts = [(rule, decisions[rule][i]) for rule in rule_order]
        denial = next(((r, d) for r, d in verdicts if not d.eligible), None)
        rule, decision = denial if denial is not None else verdicts[0]
        outcomes.append(LineOutcome(line, decision.eligible, rule, decision.reason))
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
