"""What a voucher covers in a basket: the sale's terms checked, each line decided by the
program's rules (deny wins, the never-list above all), then the per-visit cap, the period
limits and the balance applied. A quote shows it; a redemption takes it (`pos.till.engine`),
and the database checks again, under the voucher's lock, what can change meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from pos.api.requests import QuoteIn
from pos.db.pool import Executor
from pos.errors import (
    CHANNEL_NOT_ALLOWED,
    CURRENCY_MISMATCH,
    IDENTITY_CHECK_REQUIRED,
    LIMIT_REACHED,
    NO_ELIGIBLE_LINES,
    Problem,
)
from pos.messages import DEFAULT_LANGUAGE, msg
from pos.plugin.types import BasketLine, ProgramView, RuleContext
from pos.service.services import Services
from pos.storage import redemptions as store
from pos.storage.redemptions import LimitReached
from pos.storage.till_lookup import VoucherState
from pos.till import eligibility
from pos.till.rule_reads import DatabaseRuleReads
from pos.till.voucher_lookup import Till, exhausted, find_voucher


@dataclasses.dataclass(frozen=True)
class Evaluation:
    state: VoucherState
    lines: list[eligibility.LineOutcome]
    basket_total: int
    eligible_total: int
    wanted: int
    covered: int
    # Per line, what each rule added to its decision ({"<rule>": detail}), e.g. the
    # approved product list's version; stored with the redemption line.
    details: tuple[dict[str, Any] | None, ...] = ()
    sessions: int | None = None  # a program counted in uses: the sessions this basket uses
    # What the per-visit cap and period limits still allow here now (None: not limited).
    limit_left: int | None = None

    def line_dicts(self) -> list[dict[str, Any]]:
        return [{**o.as_dict(), "detail": d}
                for o, d in zip(self.lines, self.details or [None] * len(self.lines),
                                strict=True)]


def check_sale_terms(services: Services, request: QuoteIn, state: VoucherState) -> None:
    """What the voucher asks of the sale beyond its lines: currency, identity, channel."""
    basket = request.basket
    if basket.currency != state.currency:
        raise CURRENCY_MISMATCH(msg("currency_mismatch.detail", voucher_currency=state.currency,
                                    basket_currency=basket.currency))
    if state.require_identity and not request.identity_confirmed:
        raise IDENTITY_CHECK_REQUIRED(msg("identity_check_required"))
    if request.channel not in state.channels or services.plugins.channel(request.channel) is None:
        raise CHANNEL_NOT_ALLOWED(msg("channel_not_allowed.channel", channel=request.channel))


async def evaluate(
    services: Services, till: Till, request: QuoteIn, state: VoucherState | None = None,
    db: Executor | None = None, lang: str = DEFAULT_LANGUAGE,
) -> Evaluation:
    """What the voucher covers in this basket; `state` when the caller already checked it,
    `db` the request's own connection when it holds one (rules read through it). Each
    line's reason is put into `lang`."""
    if state is None:
        state = await find_voucher(services, till, request)
    check_sale_terms(services, request, state)
    if state.uses_left == 0 or state.available <= 0:
        raise exhausted()
    lines = basket_lines(request)
    outcomes, details = await decide_lines(services, till, request, state, lines, db, lang)
    eligible = eligibility.eligible_total(outcomes)
    basket_total = sum(line.total for line in lines)
    if eligible == 0:
        raise NO_ELIGIBLE_LINES(
            msg("no_eligible_lines"),
            lines=[o.as_dict() for o in outcomes])
    sessions = worth = None
    if state.unit_price is not None and state.uses_left is not None:
        sessions, worth = eligibility.session_cover(outcomes, state.unit_price,
                                                    state.uses_left)
    wanted = eligibility.wanted_amount(
        eligible, per_visit_cap=state.per_visit_cap, sessions_worth=worth)
    limit_left = None
    if state.limited:
        # On the request's own connection when it holds one: never a second from the pool.
        room = await store.limit_room(services.pool if db is None else db, state.voucher_id,
                                      till.merchant_id)
        if room.reached is not None:
            raise limit_reached(room.reached, state, outcomes)
        if room.room is not None:
            wanted, limit_left = min(wanted, room.room), room.room
    covered = eligibility.covered_amount(wanted, state.available)
    if sessions is not None and state.unit_price is not None and state.uses_left is not None:
        sessions = eligibility.sessions_for(outcomes, state.unit_price, state.uses_left,
                                            covered)
    return Evaluation(state, outcomes, basket_total, eligible, wanted, covered, details,
                      sessions, limit_left)


def basket_lines(request: QuoteIn) -> list[BasketLine]:
    return [
        BasketLine(line_no=i + 1, sku=line.sku, gtin=line.gtin, category=line.category,
                   description=line.description, quantity=line.quantity,
                   unit_price=line.unit_price)
        for i, line in enumerate(request.basket.lines)
    ]


async def decide_lines(
    services: Services, till: Till, request: QuoteIn, state: VoucherState,
    lines: list[BasketLine], db: Executor | None = None, lang: str = DEFAULT_LANGUAGE,
) -> tuple[list[eligibility.LineOutcome], tuple[dict[str, Any] | None, ...]]:
    """Each rule of the voucher's program decides each line (deny wins, the never-list
    above all), each reason in `lang`; with the details the rules added per line. `db`: the
    request's own connection, if it holds one."""
    ctx = RuleContext(
        program=ProgramView(
            id=state.program_id, name=state.program_name, currency=state.currency,
            restrictions=tuple(state.restrictions), rule_settings=state.rule_settings,
            require_identity=state.require_identity),
        merchant_id=till.merchant_id, till_id=till.till_id,
        identity_confirmed=request.identity_confirmed, settings={},
        reads=DatabaseRuleReads(services.pool if db is None else db),
    )
    if len(state.restrictions) == 1:  # the usual program: no task for one rule
        results = [await services.plugins.decide(state.restrictions[0], ctx, lines)]
    else:
        results = await asyncio.gather(
            *(services.plugins.decide(rule, ctx, lines) for rule in state.restrictions))
    outcomes = eligibility.combine(
        state.restrictions, dict(zip(state.restrictions, results, strict=True)), lines,
        lambda rule, code, params: services.plugins.reason(rule, code, params, lang),
        services.config.redemption.never_pay)
    details = tuple(
        {rule: dict(d.detail) for rule, d in ((r, res[i]) for r, res in
                                                zip(state.restrictions, results, strict=True))
         if d.detail} or None
        for i in range(len(lines)))
    return outcomes, details


def limit_reached(reached: LimitReached, state: VoucherState,
                  outcomes: list[eligibility.LineOutcome] | None = None) -> Problem:
    """422 `limit_reached`, saying when the voucher can be used again (local time)."""
    when = f"{reached.resets_at:%Y-%m-%d %H:%M}"
    extra: dict[str, Any] = {"period": reached.period,
                             "resets_at": reached.resets_at.isoformat(),
                             "time_zone": state.time_zone}
    if outcomes is not None:
        extra["lines"] = [o.as_dict() for o in outcomes]
    period = reached.period if reached.period in ("visit", "day", "week", "month") else "day"
    return LIMIT_REACHED(msg(f"limit_reached.{period}", when=when, time_zone=state.time_zone),
                         **extra)


