"""The redemption engine: what a voucher covers in a basket (quote), taking it (redeem), giving
it back (void). Checks that can change under concurrency are re-done under the voucher's
lock in the database; everything else is decided here.

The value moves in PL/pgSQL: `pos_redeem` and `pos_void` (migration 0002, replaced by 0200
with the per-visit cap per local day, the period limits of `pos_limit_room` and sessions),
called through `pos.storage.redemptions`, which answers with typed outcomes matched below.
The events that listeners get are written at commit by the triggers
`redemptions_outbox_committed` and `redemptions_outbox_voided` (migration 0010), never here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from typing import Any

from pos.api.requests import QuoteIn, RedemptionIn
from pos.db.pool import Executor
from pos.errors import (
    ALREADY_VOIDED,
    AMOUNT_EXCEEDS_COVERAGE,
    CHANNEL_NOT_ALLOWED,
    CURRENCY_MISMATCH,
    IDEMPOTENCY_KEY_REQUIRED,
    IDENTITY_CHECK_REQUIRED,
    LIMIT_REACHED,
    NO_ELIGIBLE_LINES,
    NOT_FOUND,
    OFFLINE_SALE_NOT_VOIDABLE,
    VALIDATION_ERROR,
    VOID_WINDOW_CLOSED,
    Problem,
)
from pos.ids import uuid7
from pos.messages import DEFAULT_LANGUAGE, msg
from pos.plugin.types import BasketLine, ProgramView, RuleContext
from pos.service.services import Services
from pos.storage import offline_sales, till_lookup
from pos.storage import redemptions as store
from pos.storage.redemptions import (
    CoverageShort,
    LimitReached,
    NewRedemption,
    Redeemed,
    RedeemRefusal,
    Voided,
    VoidRefusal,
)
from pos.storage.till_lookup import VoucherState
from pos.till import channel_payments, eligibility
from pos.till.claims import Claimed, with_claim, with_claim_in_transaction
from pos.till.rule_reads import DatabaseRuleReads
from pos.till.voucher_lookup import (
    Till,
    check_voucher,
    exhausted,
    find_voucher,
    locate,
    refused,
    verify_located,
)


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


# ------------------------------------------------------------------------------------------
# quote


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
        room = await store.limit_room(services.pool, state.voucher_id, till.merchant_id)
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


def _voucher_view(state: VoucherState) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": state.voucher_id, "program_id": state.program_id,
        "program_name": state.program_name, "currency": state.currency,
        "balance": state.available, "uses_left": state.uses_left,
        "per_visit_cap": state.per_visit_cap,
    }
    if state.unit_price is not None:
        # A program counted in uses speaks in sessions; its money is only their price.
        view.update(sessions_left=state.uses_left, session_price=state.unit_price)
        del view["balance"]
    return view


async def quote(services: Services, till: Till, request: QuoteIn,
                lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    ev = await evaluate(services, till, request, lang=lang)
    answer = {
        "voucher": _voucher_view(ev.state),
        "currency": ev.state.currency,
        "lines": ev.line_dicts(),
        "basket_total": ev.basket_total,
        "eligible_total": ev.eligible_total,
        "covered": ev.covered,
        "remainder": ev.basket_total - ev.covered,
        "channel": request.channel,
    }
    if ev.sessions is not None and ev.state.uses_left is not None:
        answer.update(sessions_used=ev.sessions,
                      sessions_left=ev.state.uses_left - ev.sessions)
    if ev.state.limited:
        # Why the voucher may pay less than its balance: what its caps leave here today.
        answer["limit_left"] = ev.limit_left
    return answer


# ------------------------------------------------------------------------------------------
# redeem and void


def request_hash(path: str, body: dict[str, Any] | None) -> bytes:
    canonical = json.dumps([path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


def check_idempotency_key(key: str | None) -> str:
    if not key:
        raise IDEMPOTENCY_KEY_REQUIRED(msg("idempotency_key_required"))
    if len(key) > 200 or not key.isprintable():
        raise VALIDATION_ERROR(msg("validation_error.idempotency_key"))
    return key


async def redeem(
    services: Services, till: Till, request: RedemptionIn, key: str, path: str,
    lang: str = DEFAULT_LANGUAGE,
) -> tuple[int, dict[str, Any]]:
    digest = request_hash(path, request.model_dump(mode="json"))
    where = await verify_located(services, await locate(services, till, request))

    async def work(owner: str, loaded: VoucherState | None, claimed: Claimed
                   ) -> tuple[int, dict[str, Any]]:
        state = await check_voucher(services, request, where, loaded)
        ev = await evaluate(services, till, request, state, claimed.db(services), lang)
        if request.amount is not None and request.amount > ev.covered:
            raise AMOUNT_EXCEEDS_COVERAGE(
                msg("amount_exceeds_coverage.asked", covered_amount=ev.covered,
                    asked_amount=request.amount, currency=ev.state.currency),
                covered=ev.covered)
        redemption_id = str(uuid7())  # time-ordered: appended to the primary key's edge
        lines = ev.line_dicts()
        # The remainder is taken through the channel first; the voucher part only if that
        # stood, and at exactly the figure the remainder was worked out from.
        covered = request.amount if request.amount is not None else ev.covered
        collected = None
        if ev.basket_total > covered:
            await claimed.commit_claim()  # a channel call is remote: never inside a transaction
            collected = await channel_payments.collect(
                services, till_id=till.till_id, merchant_id=till.merchant_id, idem_key=key,
                channel=request.channel, amount=ev.basket_total - covered,
                currency=ev.state.currency)
        response = {
            "id": redemption_id, "voucher_id": ev.state.voucher_id,
            "program_id": ev.state.program_id, "merchant_id": till.merchant_id,
            "till_id": till.till_id, "currency": ev.state.currency, "status": "captured",
            "channel": request.channel, "basket_total": ev.basket_total,
            "eligible_total": ev.eligible_total, "lines": lines,
            "payment": None if collected is None else collected.as_dict(),
        }
        journalled = collected is not None and collected.payment is not None
        try:
            outcome = await store.redeem(claimed.db(services), NewRedemption(
                redemption_id=redemption_id, voucher_id=ev.state.voucher_id,
                merchant_id=till.merchant_id, till_id=till.till_id, idem_key=key,
                idem_owner=owner, currency=ev.state.currency, basket_total=ev.basket_total,
                eligible_total=ev.eligible_total, wanted=ev.wanted,
                requested=covered if journalled else request.amount,
                channel=request.channel, lines=lines, response=response,
                token_iat=ev.state.token_iat,
                payment_id=collected.payment.id if collected and collected.payment else None,
            ))
        except BaseException as exc:
            if collected is not None:
                status = await asyncio.shield(channel_payments.reverse(services, collected))
                if isinstance(exc, Problem):
                    channel_payments.tell(exc, request.channel, status)
            raise
        problem: Problem
        match outcome:
            case Redeemed(answer=answer):
                return 201, answer
            case CoverageShort(covered=now_covered):
                problem = AMOUNT_EXCEEDS_COVERAGE(
                    msg("amount_exceeds_coverage.now", covered_amount=now_covered,
                        currency=ev.state.currency),
                    covered=now_covered)
            case LimitReached():
                # Another till used the rest of the limit while this one was deciding.
                problem = limit_reached(outcome, ev.state)
            case RedeemRefusal():
                problem = refused(outcome)
        if collected is not None:
            channel_payments.tell(problem, request.channel,
                          await channel_payments.reverse(services, collected))
        raise problem

    return await with_claim_in_transaction(services, till, key, digest, work, where,
                                           one_transaction=till_lookup.ONE_TRANSACTION)


async def void(
    services: Services, till: Till, redemption_id: str, key: str, path: str
) -> tuple[int, dict[str, Any]]:
    digest = request_hash(path, None)

    async def work(owner: str, _: VoucherState | None) -> tuple[int, dict[str, Any]]:
        if await offline_sales.shortfall_of(services.pool, redemption_id):
            # Part of it was paid by the program's offline-risk account, not the voucher.
            raise OFFLINE_SALE_NOT_VOIDABLE(
                "This offline sale was partly paid by the program. Contact the program.")
        outcome = await store.void(
            services.pool, redemption_id, till.merchant_id, till.till_id,
            services.config.redemption.void_window_minutes, key, owner)
        match outcome:
            case Voided():
                return 200, await channel_payments.after_void(services, till.merchant_id,
                                                              outcome)
            case VoidRefusal.ALREADY_VOIDED:
                raise ALREADY_VOIDED(msg("already_voided"))
            case VoidRefusal.VOID_WINDOW_CLOSED:
                raise VOID_WINDOW_CLOSED(msg("void_window_closed"))
            case VoidRefusal.NOT_FOUND:
                raise NOT_FOUND(msg("not_found.redemption"))

    return await with_claim(services, till, key, digest, work)
