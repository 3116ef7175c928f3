"""The redemption engine: what a voucher covers in a basket (quote, worked out by
`pos.till.evaluation`), taking it (redeem), giving it back (void). Checks that can change
under concurrency are re-done under the voucher's lock in the database; everything else is
decided here.

A redemption under a key the till never used, with nothing to collect through a channel, is
two round trips and one commit: the voucher loaded read only, then `pos_redeem` in one
statement that also stores the new key with its answer (`pos.storage.claim_and_redeem`).
Anything else claims the key first, in the transaction that then moves the value
(`pos.till.claims`).

The value moves in PL/pgSQL: `pos_redeem` and `pos_void` (migration 0002, replaced by 0200
with the per-visit cap per local day, the period limits of `pos_limit_room` and sessions),
called through `pos.storage.redemptions`, which answers with typed outcomes matched below.
The events that listeners get are written in the database, never here: a sale's by
`pos_redeem` in its own statement (migration 0730), a void's by the trigger
`redemptions_outbox_voided` (migration 0010).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

from pos.api.requests import QuoteIn, RedemptionIn
from pos.errors import (
    ALREADY_VOIDED,
    AMOUNT_EXCEEDS_COVERAGE,
    IDEMPOTENCY_KEY_REQUIRED,
    NOT_FOUND,
    OFFLINE_SALE_NOT_VOIDABLE,
    VALIDATION_ERROR,
    VOID_WINDOW_CLOSED,
    Problem,
)
from pos.ids import uuid7
from pos.messages import DEFAULT_LANGUAGE, msg
from pos.service.services import Services
from pos.storage import claim_and_redeem, offline_sales
from pos.storage import redemptions as store
from pos.storage.redemptions import (
    CoverageShort,
    LimitReached,
    NewRedemption,
    Redeemed,
    RedeemOutcome,
    RedeemRefusal,
    VoidRefusal,
)
from pos.storage.till_lookup import VoucherState
from pos.till import channel_payments
from pos.till.claims import Claimed, with_claim, with_claim_in_transaction
from pos.till.evaluation import Evaluation, evaluate, limit_reached
from pos.till.voucher_lookup import (
    Locator,
    Till,
    check_voucher,
    locate,
    refused,
    verify_located,
)


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
    fresh = await _redeem_fresh(services, till, request, key, digest, where, lang)
    if fresh is not None:
        return fresh

    async def work(owner: str, loaded: VoucherState | None, claimed: Claimed
                   ) -> tuple[int, dict[str, Any]]:
        state = await check_voucher(services, request, where, loaded)
        ev = await evaluate(services, till, request, state, claimed.db(services), lang)
        # The remainder is taken through the channel first; the voucher part only if that
        # stood, and at exactly the figure the remainder was worked out from.
        covered = _voucher_part(request, ev)
        collected = None
        if ev.basket_total > covered:
            await claimed.commit_claim()  # a channel call is remote: never inside a transaction
            collected = await channel_payments.collect(
                services, till_id=till.till_id, merchant_id=till.merchant_id, idem_key=key,
                channel=request.channel, amount=ev.basket_total - covered,
                currency=ev.state.currency)
        journalled = collected is not None and collected.payment is not None
        new = _new_redemption(till, request, ev, key, owner, collected,
                              requested=covered if journalled else request.amount)
        try:
            outcome = await store.redeem(claimed.db(services), new)
        except BaseException as exc:
            if collected is not None:
                status = await asyncio.shield(channel_payments.reverse(services, collected))
                if isinstance(exc, Problem):
                    channel_payments.tell(exc, request.channel, status)
            raise
        if isinstance(outcome, Redeemed):
            return 201, outcome.answer
        problem = _sale_problem(outcome, ev)
        if collected is not None:
            channel_payments.tell(problem, request.channel,
                          await channel_payments.reverse(services, collected))
        raise problem

    return await with_claim_in_transaction(services, till, key, digest, work, where,
                                           one_transaction=True)


async def _redeem_fresh(
    services: Services, till: Till, request: RedemptionIn, key: str, digest: bytes,
    where: Locator, lang: str,
) -> tuple[int, dict[str, Any]] | None:
    """The till's common sale in two round trips and one commit: the voucher loaded read
    only, then the key claimed and the value moved in one statement. None when the sale must
    go the general way: the key was used before (a retry), a remainder is to be collected
    through a channel, rules left details to store, or another request took the key."""
    async with services.pool.acquire() as conn:  # one connection for both statements
        state = await claim_and_redeem.load_unless_key_used(
            conn, till_id=till.till_id, key=key, merchant_id=till.merchant_id,
            voucher_id=where.voucher_id, code_hash=where.code_hash, kid=where.kid)
        if state is None:
            return None
        ev = await evaluate(services, till, request,
                            await check_voucher(services, request, where, state), conn, lang)
        if ev.basket_total > _voucher_part(request, ev):
            return None
        new = _new_redemption(till, request, ev, key, str(uuid.uuid4()), None,
                              requested=request.amount)
        if new.needs_transaction():
            return None
        outcome = await claim_and_redeem.claim_and_redeem(conn, new, digest)
    if outcome is None:
        return None
    if isinstance(outcome, Redeemed):
        return 201, outcome.answer
    raise _sale_problem(outcome, ev)


def _voucher_part(request: RedemptionIn, ev: Evaluation) -> int:
    """What the voucher is to pay: the amount the till asked for, or all it covers."""
    if request.amount is not None and request.amount > ev.covered:
        raise AMOUNT_EXCEEDS_COVERAGE(
            msg("amount_exceeds_coverage.asked", covered_amount=ev.covered,
                asked_amount=request.amount, currency=ev.state.currency),
            covered=ev.covered)
    return request.amount if request.amount is not None else ev.covered


def _new_redemption(
    till: Till, request: RedemptionIn, ev: Evaluation, key: str, owner: str,
    collected: channel_payments.Collected | None, requested: int | None,
) -> NewRedemption:
    redemption_id = str(uuid7())  # time-ordered: appended to the primary key's edge
    lines = ev.line_dicts()
    response = {
        "id": redemption_id, "voucher_id": ev.state.voucher_id,
        "program_id": ev.state.program_id, "merchant_id": till.merchant_id,
        "till_id": till.till_id, "currency": ev.state.currency, "status": "captured",
        "channel": request.channel, "basket_total": ev.basket_total,
        "eligible_total": ev.eligible_total, "lines": lines,
        "payment": None if collected is None else collected.as_dict(),
    }
    return NewRedemption(
        redemption_id=redemption_id, voucher_id=ev.state.voucher_id,
        merchant_id=till.merchant_id, till_id=till.till_id, idem_key=key, idem_owner=owner,
        currency=ev.state.currency, basket_total=ev.basket_total,
        eligible_total=ev.eligible_total, wanted=ev.wanted, requested=requested,
        channel=request.channel, lines=lines, response=response,
        token_iat=ev.state.token_iat,
        payment_id=collected.payment.id if collected and collected.payment else None)


def _sale_problem(outcome: RedeemOutcome, ev: Evaluation) -> Problem:
    """Why `pos_redeem` wrote nothing, for the till."""
    match outcome:
        case CoverageShort(covered=now_covered):
            return AMOUNT_EXCEEDS_COVERAGE(
                msg("amount_exceeds_coverage.now", covered_amount=now_covered,
                    currency=ev.state.currency),
                covered=now_covered)
        case LimitReached():
            # Another till used the rest of the limit while this one was deciding.
            return limit_reached(outcome, ev.state)
        case RedeemRefusal():
            return refused(outcome)
    raise AssertionError(f"not a refusal: {outcome!r}")


async def void(
    services: Services, till: Till, redemption_id: str, key: str, path: str
) -> tuple[int, dict[str, Any]]:
    digest = request_hash(path, None)

    async def work(owner: str, _: VoucherState | None) -> tuple[int, dict[str, Any]]:
        if await offline_sales.shortfall_of(services.pool, redemption_id):
            # Part of it was paid by the program's offline-risk account, not the voucher.
            raise OFFLINE_SALE_NOT_VOIDABLE(msg("offline_sale_not_voidable"))
        outcome = await store.void(
            services.pool, redemption_id, till.merchant_id, till.till_id,
            services.config.redemption.void_window_minutes, key, owner)
        if isinstance(outcome, VoidRefusal):
            raise void_refused(outcome)
        return 200, await channel_payments.after_void(services, till.merchant_id, outcome)

    return await with_claim(services, till, key, digest, work)


def void_refused(refusal: VoidRefusal) -> Problem:
    """Why `pos_void` wrote nothing, for the till (a single redemption or a whole sale)."""
    match refusal:
        case VoidRefusal.ALREADY_VOIDED:
            return ALREADY_VOIDED(msg("already_voided"))
        case VoidRefusal.VOID_WINDOW_CLOSED:
            return VOID_WINDOW_CLOSED(msg("void_window_closed"))
        case VoidRefusal.NOT_FOUND:
            return NOT_FOUND(msg("not_found.redemption"))
