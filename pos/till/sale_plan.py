"""Several vouchers, one basket: finding and checking every voucher listed, letting each
program's rules decide each line, and splitting the basket between them
(`pos.till.allocation`). A quote is this plan; a redemption (`pos.till.multi_voucher`)
makes it again under the vouchers' locks and writes it.

A refusal of any voucher refuses the whole sale, and says which voucher (its position in
the list, from 1, and its id when known) and why.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from pos.api.requests import QuoteIn, VoucherRefIn
from pos.errors import NO_ELIGIBLE_LINES, VOUCHER_LISTED_TWICE, Problem
from pos.messages import DEFAULT_LANGUAGE
from pos.plugin.types import BasketLine
from pos.service.services import Services
from pos.storage import sale_records
from pos.storage.sale_records import VoucherNow
from pos.storage.till_lookup import VoucherState
from pos.till import allocation, evaluation
from pos.till.allocation import Allocation, Purse
from pos.till.eligibility import LineOutcome
from pos.till.voucher_lookup import (
    Till,
    check_voucher,
    exhausted,
    expired,
    load,
    locate,
    revoked,
    suspended,
)


@dataclasses.dataclass(frozen=True)
class Listed:
    """One voucher of the list, checked, with its program's decision on every line."""

    position: int  # in scan order, from 1
    state: VoucherState
    outcomes: list[LineOutcome]
    details: tuple[dict[str, Any] | None, ...]

    @property
    def eligible(self) -> tuple[bool, ...]:
        return tuple(o.eligible for o in self.outcomes)

    @property
    def eligible_total(self) -> int:
        return sum(o.line.total for o in self.outcomes if o.eligible)


@dataclasses.dataclass(frozen=True)
class Plan:
    lines: list[BasketLine]
    listed: list[Listed]
    now: Mapping[str, VoucherNow]
    split: Allocation

    @property
    def basket_total(self) -> int:
        return sum(line.total for line in self.lines)

    @property
    def eligible_total(self) -> int:
        return sum(line.total for i, line in enumerate(self.lines)
                   if any(v.eligible[i] for v in self.listed))


def naming(problem: Problem, position: int, voucher_id: str | None) -> Problem:
    """Say which voucher of the list a refusal is about."""
    problem.detail = f"Voucher {position}: {problem.detail}"
    problem.extra["voucher"] = {"position": position, "voucher_id": voucher_id}
    return problem


async def _checked(services: Services, till: Till, request: QuoteIn, position: int,
                   ref: VoucherRefIn) -> VoucherState:
    voucher_id = None
    try:
        where = await locate(services, till, ref)
        voucher_id = where.voucher_id
        state = await check_voucher(services, ref, where, await load(services, till, where))
        voucher_id = state.voucher_id
        evaluation.check_sale_terms(services, request, state)
        return state
    except Problem as problem:
        raise naming(problem, position, voucher_id) from None


async def find_listed(services: Services, till: Till, request: QuoteIn,
                      lang: str = DEFAULT_LANGUAGE) -> list[Listed]:
    """Every voucher of `request.vouchers`, checked, and its rules' decision on each line;
    rules run once per program."""
    assert request.vouchers is not None
    states = await asyncio.gather(*(
        _checked(services, till, request, i + 1, ref)
        for i, ref in enumerate(request.vouchers)))
    seen: dict[str, int] = {}
    for position, state in enumerate(states, start=1):
        if state.voucher_id in seen:
            raise naming(VOUCHER_LISTED_TWICE(
                f"This voucher was scanned twice (also as voucher {seen[state.voucher_id]}). "
                "Remove one."), position, state.voucher_id)
        seen[state.voucher_id] = position
    lines = evaluation.basket_lines(request)
    by_program: dict[str, VoucherState] = {}
    for state in states:
        by_program.setdefault(state.program_id, state)
    decided = dict(zip(by_program, await asyncio.gather(*(
        evaluation.decide_lines(services, till, request, state, lines, lang=lang)
        for state in by_program.values())), strict=True))
    return [Listed(position, state, *decided[state.program_id])
            for position, state in enumerate(states, start=1)]


def split(lines: Sequence[BasketLine], listed: Sequence[Listed],
          now: Mapping[str, VoucherNow]) -> Allocation:
    """The allocation for these vouchers as they are `now`; a voucher that is no longer
    active, or has nothing left, refuses the sale."""
    purses = []
    for v in listed:
        current = now.get(v.state.voucher_id)
        if current is None or current.status != "active":
            raise naming(exhausted() if current is None else _status_problem(current.status),
                         v.position, v.state.voucher_id)
        if current.limit.reached is not None and current.available > 0:
            raise naming(evaluation.limit_reached(current.limit.reached, v.state), v.position,
                         v.state.voucher_id)
        room = current.limit.room
        limit = allocation.ceiling(
            current.available, per_visit_cap=v.state.per_visit_cap,
            unit_price=v.state.unit_price, uses_left=current.uses_left,
            limits=() if room is None else (room,))
        if limit <= 0:
            raise naming(exhausted(), v.position, v.state.voucher_id)
        purses.append(Purse(limit, current.expires_at, v.eligible))
    return allocation.allocate([line.total for line in lines], purses)


def _status_problem(status: str) -> Problem:
    return {"suspended": suspended, "revoked": revoked}.get(status, expired)()


async def plan(services: Services, till: Till, request: QuoteIn,
               lang: str = DEFAULT_LANGUAGE) -> Plan:
    listed = await find_listed(services, till, request, lang)
    lines = evaluation.basket_lines(request)
    now = await sale_records.read_now(services.pool, [v.state.voucher_id for v in listed],
                                      till.merchant_id)
    made = Plan(lines, listed, now, split(lines, listed, now))
    if made.split.covered == 0:
        raise NO_ELIGIBLE_LINES(
            "Nothing in this basket can be paid with these vouchers.",
            lines=lines_view(made))
    return made


# ------------------------------------------------------------------------------------------
# what the till sees


def lines_view(plan: Plan) -> list[dict[str, Any]]:
    """Per line: whether any voucher may pay it, who pays how much, and each voucher's
    decision (the line's `rule`/`reason` are the first paying voucher's, else the first
    voucher's)."""
    out = []
    for i in range(len(plan.lines)):
        decisions = [{"position": v.position, "voucher_id": v.state.voucher_id,
                      "eligible": v.outcomes[i].eligible, "rule": v.outcomes[i].rule,
                      "reason": v.outcomes[i].reason} for v in plan.listed]
        parts = [{"position": v.position, "voucher_id": v.state.voucher_id,
                  "amount": plan.split.split[k][i]}
                 for k, v in enumerate(plan.listed) if plan.split.split[k][i] > 0]
        shown = next((v for v in plan.listed if v.outcomes[i].eligible), plan.listed[0])
        out.append({**shown.outcomes[i].as_dict(),
                    "eligible": any(d["eligible"] for d in decisions),
                    "covered": plan.split.line_paid(i), "parts": parts,
                    "decisions": decisions})
    return out


def voucher_view(v: Listed, part: int, now: VoucherNow) -> dict[str, Any]:
    s = v.state
    return {"position": v.position, "id": s.voucher_id, "program_id": s.program_id,
            "program_name": s.program_name, "currency": s.currency,
            "balance": now.available, "uses_left": now.uses_left,
            "per_visit_cap": s.per_visit_cap, "eligible_total": v.eligible_total,
            "part": part, "balance_after": now.available - part}


async def quote(services: Services, till: Till, request: QuoteIn,
                lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    made = await plan(services, till, request, lang)
    parts = made.split.parts
    return {
        "currency": request.basket.currency,
        "vouchers": [voucher_view(v, parts[k], made.now[v.state.voucher_id])
                     for k, v in enumerate(made.listed)],
        "lines": lines_view(made),
        "basket_total": made.basket_total,
        "eligible_total": made.eligible_total,
        "covered": made.split.covered,
        "remainder": made.basket_total - made.split.covered,
        "channel": request.channel,
    }
