"""Redeeming and voiding a sale paid by several vouchers: one transaction, all or nothing.

The plan (`pos.till.sale_plan`) is made first, unlocked, to know the remainder, which the
payment channel collects before any value moves (as for one voucher). Then, in one
transaction (`pos.storage.sale_records.locked_vouchers`), every voucher row is locked in
voucher-id order, the split is made again from what the vouchers hold now, and each voucher
that pays is charged through `pos_redeem` (migration 0002, via
`pos.storage.redemptions.redeem_in`): one redemption and one ledger movement per voucher,
under its own program. Any refusal rolls all of it back and names the voucher. A void
(`pos_void` for every part, `pos.storage.sale_records.void_sale`) gives all parts back.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pos.api.requests import RedemptionIn
from pos.errors import VOUCHERS_CHANGED, Problem
from pos.messages import DEFAULT_LANGUAGE
from pos.service.services import Services
from pos.storage import redemptions as store
from pos.storage import sale_records
from pos.storage.redemptions import (
    CoverageShort,
    LimitReached,
    NewRedemption,
    Redeemed,
    RedeemRefusal,
    VoidRefusal,
)
from pos.storage.sale_records import NewSale, SalePart
from pos.storage.till_lookup import VoucherState
from pos.till import channel_payments, claims, engine, evaluation, sale_plan
from pos.till.allocation import Allocation
from pos.till.channel_payments import Collected
from pos.till.sale_plan import Plan
from pos.till.voucher_lookup import Till, refused


async def redeem(
    services: Services, till: Till, request: RedemptionIn, key: str, path: str,
    lang: str = DEFAULT_LANGUAGE,
) -> tuple[int, dict[str, Any]]:
    digest = engine.request_hash(path, request.model_dump(mode="json"))

    async def work(owner: str, _: VoucherState | None) -> tuple[int, dict[str, Any]]:
        planned = await sale_plan.plan(services, till, request, lang)
        remainder = planned.basket_total - planned.split.covered
        collected = None
        if remainder > 0:
            collected = await channel_payments.collect(
                services, till_id=till.till_id, merchant_id=till.merchant_id, idem_key=key,
                channel=request.channel, amount=remainder, currency=request.basket.currency)
        try:
            return 201, await _write(services, till, request, key, owner, planned, collected)
        except BaseException as exc:
            if collected is not None:
                status = await asyncio.shield(channel_payments.reverse(services, collected))
                if isinstance(exc, Problem):
                    channel_payments.tell(exc, request.channel, status)
            raise

    return await claims.with_claim(services, till, key, digest, work)


async def _write(
    services: Services, till: Till, request: RedemptionIn, key: str, owner: str,
    planned: Plan, collected: Collected | None,
) -> dict[str, Any]:
    ids = [v.state.voucher_id for v in planned.listed]
    async with sale_records.locked_vouchers(services.pool, ids, till.merchant_id) as (
            conn, now):
        split = sale_plan.split(planned.lines, planned.listed, now)
        journalled = collected is not None and collected.payment is not None
        if split.covered == 0 or (journalled and split != planned.split):
            # The remainder was collected at the planned figure; it must still stand.
            raise VOUCHERS_CHANGED(
                "A voucher of this sale was used elsewhere meanwhile. Nothing was taken; "
                "check the basket again.")
        current = Plan(planned.lines, planned.listed, now, split)
        sale_id = str(uuid.uuid4())
        lead = next(k for k, part in enumerate(split.parts) if part > 0)
        part_ids = [str(uuid.uuid4()) if part > 0 else None for part in split.parts]
        remainder = current.basket_total - split.covered
        answer = _answer(current, request, till, sale_id, part_ids, collected)
        for k in sorted(range(len(ids)), key=lambda k: ids[k]):  # the lock order
            if part_ids[k] is None:
                continue
            done = await store.redeem_in(conn, _part(
                current, k, part_ids[k] or "", sale_id, till, request, key, owner,
                remainder if k == lead else 0,
                collected if k == lead else None))
            match done:
                case Redeemed(answer=part_answer):
                    answer["vouchers"][k].update(
                        balance_after=part_answer["balance_after"],
                        uses_left=part_answer["uses_left"])
                case RedeemRefusal():  # a check pos_redeem makes under the lock
                    raise sale_plan.naming(refused(done), k + 1, ids[k])
                case LimitReached():  # a per-visit cap or period limit, under the lock
                    raise sale_plan.naming(
                        evaluation.limit_reached(done, current.listed[k].state), k + 1, ids[k])
                case CoverageShort():  # cannot happen under our lock
                    raise sale_plan.naming(VOUCHERS_CHANGED(
                        "This voucher changed meanwhile. Nothing was taken; check the "
                        "basket again."), k + 1, ids[k])
        await sale_records.record_sale(conn, NewSale(
            sale_id=sale_id, merchant_id=till.merchant_id, till_id=till.till_id,
            currency=request.basket.currency, basket_total=current.basket_total,
            covered=split.covered, channel=request.channel,
            lead_redemption_id=part_ids[lead] or "",
            parts=[SalePart(k + 1, ids[k], part_ids[k], split.parts[k])
                   for k in range(len(ids))],
            line_parts=_line_parts(current.lines, ids, split),
            answer=answer, idem_key=key, idem_owner=owner))
    return answer


def _line_parts(lines: Any, ids: list[str], split: Allocation) -> list[tuple[int, str, int]]:
    return [(line.line_no, ids[k], split.split[k][i])
            for k in range(len(ids)) for i, line in enumerate(lines) if split.split[k][i] > 0]


def _answer(
    plan: Plan, request: RedemptionIn, till: Till, sale_id: str, part_ids: list[str | None],
    collected: Collected | None,
) -> dict[str, Any]:
    parts = plan.split.parts
    vouchers = []
    for k, v in enumerate(plan.listed):
        view = sale_plan.voucher_view(v, parts[k], plan.now[v.state.voucher_id])
        view["redemption_id"] = part_ids[k]
        vouchers.append(view)
    return {
        "id": sale_id, "merchant_id": till.merchant_id, "till_id": till.till_id,
        "currency": request.basket.currency, "status": "captured",
        "channel": request.channel, "basket_total": plan.basket_total,
        "eligible_total": plan.eligible_total, "covered": plan.split.covered,
        "remainder": plan.basket_total - plan.split.covered,
        "vouchers": vouchers, "lines": sale_plan.lines_view(plan),
        "payment": None if collected is None else collected.as_dict(),
    }


def _part(
    plan: Plan, k: int, redemption_id: str, sale_id: str, till: Till, request: RedemptionIn,
    key: str, owner: str, remainder: int, collected: Collected | None,
) -> NewRedemption:
    """Voucher `k`'s part as an ordinary redemption: its own decision on every line, and
    (for the lead part) the sale's remainder and its payment."""
    v = plan.listed[k]
    part = plan.split.parts[k]
    lines = [{**o.as_dict(), "covered": plan.split.split[k][i], "detail": v.details[i]}
             for i, o in enumerate(v.outcomes)]
    return NewRedemption(
        redemption_id=redemption_id, voucher_id=v.state.voucher_id,
        merchant_id=till.merchant_id, till_id=till.till_id, idem_key=key, idem_owner=owner,
        currency=request.basket.currency, basket_total=part + remainder,
        eligible_total=v.eligible_total, wanted=part, requested=part,
        channel=request.channel, lines=lines,
        response={"id": redemption_id, "sale_id": sale_id, "voucher_id": v.state.voucher_id,
                  "program_id": v.state.program_id},
        token_iat=v.state.token_iat,
        payment_id=collected.payment.id if collected and collected.payment else None)


# ------------------------------------------------------------------------------------------
# void


async def void(
    services: Services, till: Till, some_id: str, key: str, path: str
) -> tuple[int, dict[str, Any]]:
    """Void a redemption; when it is a sale paid by several vouchers, or a part of one,
    every part of that sale."""
    sale_id = await sale_records.sale_of(services.pool, some_id)
    if sale_id is None:
        return await engine.void(services, till, some_id, key, path)
    digest = engine.request_hash(path, None)

    async def work(owner: str, _: VoucherState | None) -> tuple[int, dict[str, Any]]:
        outcome = await sale_records.void_sale(
            services.pool, sale_id, till.merchant_id, till.till_id,
            services.config.redemption.void_window_minutes, key, owner)
        if isinstance(outcome, VoidRefusal):
            raise engine.void_refused(outcome)
        return 200, await channel_payments.after_void(services, till.merchant_id, outcome)

    return await claims.with_claim(services, till, key, digest, work)


async def read(services: Services, some_id: str, merchant_id: str | None) -> dict[str, Any]:
    """A redemption, or a sale paid by several vouchers, as the till or an admin sees it."""
    sale_id = await sale_records.sale_of(services.pool, some_id)
    if sale_id is not None and sale_id == some_id:
        return await sale_records.get_sale(services.pool, sale_id, merchant_id)
    return await store.get_redemption(services.pool, some_id, merchant_id)
