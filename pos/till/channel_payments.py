"""The remainder of a basket, moved through a payment channel so that a redemption is never
half-done: the voucher part and the remainder both stand, or neither does, and the till's
answer says which.

Order of work for a redemption with a remainder:

1. journal the payment (`collecting`), call the channel's `collect`;
2. only if the provider said yes, run `pos_redeem` and bind the payment to the redemption
   in the same transaction;
3. if the provider said no, nothing was taken: refuse; if its answer is unknown (timeout,
   error, plugin failure) or the redemption was refused after all, reverse the payment
   (`refund` with the collect's key), now or, if the provider is away, from the background
   task until it confirms.

A channel that moves no money at a provider (`external = False`, e.g. cash) is called the
same way but not journalled: there is nothing to reconcile.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from pos.errors import PAYMENT_DECLINED, PAYMENT_FAILED, PluginProblem, Problem
from pos.messages import msg
from pos.plugin.manager import ChannelOutcome
from pos.plugin.types import ChannelRequest
from pos.service.services import Services
from pos.storage import payment_journal as store
from pos.storage.payment_journal import Payment
from pos.storage.redemptions import Voided

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Collected:
    """A remainder the channel took; `payment` is its journal row (None: not journalled)."""

    channel: str
    amount: int
    currency: str
    outcome: ChannelOutcome
    payment: Payment | None
    request: ChannelRequest

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"channel": self.channel, "status": "collected",
                               "reference": self.outcome.reference,
                               "message": self.outcome.message}
        if self.payment is not None:
            # Exact: the voucher part was fixed at the figure this was worked out from. For
            # a channel without a journal (cash) the answer's `remainder` is the figure.
            out["amount"] = self.amount
        return out


def journalled(services: Services, channel: str) -> bool:
    # Safe default: an adapter that does not say is treated as moving real money.
    return bool(getattr(services.plugins.channel(channel), "external", True))


def tell(problem: Problem, channel: str, status: str) -> Problem:
    """Add to a refusal what became of the remainder, for the till: `not_taken`,
    `reversed` (given back) or `reversal_pending` (being given back; nothing to do at the
    till). The voucher part was not taken in any of these."""
    problem.extra["redeemed"] = False
    problem.extra["payment"] = {"channel": channel, "status": status}
    return problem


async def collect(
    services: Services, *, till_id: str, merchant_id: str, idem_key: str, channel: str,
    amount: int, currency: str,
) -> Collected:
    """Take `amount` through `channel`, or raise a refusal that says what became of it."""
    payment = None
    if journalled(services, channel):
        payment = await store.start_collect(
            services.pool, till_id, idem_key, channel, amount, currency)
        key = payment.provider_key
    else:
        key = f"{till_id}:{idem_key}:collect"
    request = ChannelRequest(channel=channel, amount=amount, currency=currency,
                             idempotency_key=key, merchant_id=merchant_id,
                             metadata={"till_id": till_id})
    outcome = await services.plugins.call_channel(channel, "collect", request)
    if outcome.state == "ok":
        collected = Collected(channel, amount, currency, outcome, payment, request)
        if payment is None or await store.mark(
                services.pool, payment.id, "collected", expect=("collecting", "collected"),
                reference=outcome.reference):
            return collected
        # The background task already gave up on this payment and is reversing it.
        raise tell(_unavailable(channel), channel, "reversal_pending")
    if outcome.state == "declined":
        if payment is not None:
            await store.mark(services.pool, payment.id, "declined", expect=("collecting",),
                             error=outcome.message)
        raise tell(PAYMENT_DECLINED(msg("payment_declined.because", channel=channel,
                                        message=outcome.message or "-")),
                   channel, "not_taken")
    # Nobody knows whether money moved: reverse by the same key, then refuse.
    status = await reverse(services, Collected(channel, amount, currency, outcome, payment,
                                               request))
    if outcome.state == "broken":
        problem: Problem = PluginProblem(outcome.plugin, msg("plugin_error.channel",
                                                             channel=channel))
    else:
        problem = _unavailable(channel)
    raise tell(problem, channel, status)


def _unavailable(channel: str) -> Problem:
    return PAYMENT_FAILED(msg("payment_failed.channel", channel=channel))


def _refund_request(payment: Payment, redemption_id: str | None = None) -> ChannelRequest:
    return ChannelRequest(
        channel=payment.channel, amount=payment.amount, currency=payment.currency,
        idempotency_key=f"{payment.provider_key}:refund",
        redemption_id=redemption_id or payment.redemption_id,
        metadata={"payment_key": payment.provider_key,
                  "payment_reference": payment.reference})


async def reverse(services: Services, collected: Collected) -> str:
    """Give back what `collect` took (or may have taken): 'reversed' or 'reversal_pending'."""
    payment = collected.payment
    if payment is None:
        request = dataclasses.replace(
            collected.request, idempotency_key=collected.request.idempotency_key + ":refund",
            metadata={"payment_key": collected.request.idempotency_key})
        outcome = await services.plugins.call_channel(collected.channel, "refund", request)
        if outcome.state != "ok":
            log.error("channel %s could not give back %s %s", collected.channel,
                      collected.amount, collected.currency)
        return "reversed" if outcome.state == "ok" else "reversal_pending"
    if not await store.mark(services.pool, payment.id, "refund_pending",
                            expect=("collecting", "collected")):
        # Either the background task is already reversing it, or the redemption did
        # commit after all (the request was cut off while the commit was acknowledged):
        # a payment bound to a redemption stands with it and is never given back here.
        current = await store.status(services.pool, payment.id)
        return "collected" if current == "bound" else "reversal_pending"
    return await refund(services, payment)


async def refund(services: Services, payment: Payment) -> str:
    """One attempt to refund a `refund_pending` payment: 'reversed' or 'reversal_pending'
    (the background task tries again later)."""
    outcome = await services.plugins.call_channel(payment.channel, "refund",
                                                  _refund_request(payment))
    if outcome.state == "ok":
        await store.mark(services.pool, payment.id, "refunded", expect=("refund_pending",))
        return "reversed"
    await store.retry_later(services.pool, payment.id, _delay(services, payment.attempts),
                            f"{outcome.state}: {outcome.message}")
    return "reversal_pending"


async def refund_untracked(services: Services, channel: str, amount: int, currency: str,
                           redemption_id: str, merchant_id: str) -> str:
    """The void of a redemption whose remainder went through a channel that keeps no
    journal (cash): tell the channel, which tells the cashier to give it back."""
    request = ChannelRequest(channel=channel, amount=amount, currency=currency,
                             idempotency_key=f"{redemption_id}:void",
                             redemption_id=redemption_id, merchant_id=merchant_id)
    outcome = await services.plugins.call_channel(channel, "refund", request)
    return "reversed" if outcome.state == "ok" else "reversal_pending"


def _delay(services: Services, attempts: int) -> float:
    cfg = services.config.plugins
    return float(min(cfg.event_retry_max_seconds,
                     cfg.event_retry_seconds * 2 ** max(0, attempts - 1)))


async def retry_due(services: Services, limit: int = 50) -> int:
    """Background work: refunds still owed, and collections no request came back for (the
    process died between the provider's yes and the redemption). Returns how many were
    tried."""
    stale = services.config.redemption.idempotency_lease_seconds * 2
    due = await store.claim_due(services.pool, limit, stale,
                                lease_seconds=_delay(services, 1) + 60)
    for payment in due:
        status = await refund(services, payment)
        log.info("payment %s via %s: %s", payment.id, payment.channel, status)
    return len(due)


async def after_void(services: Services, merchant_id: str, voided: Voided) -> dict[str, Any]:
    """Give back the remainder of a voided redemption; the void's answer says how it went
    (`refunded`, or `refund_pending`: the background task keeps trying). A repeated void
    request gets the first answer as stored, without this part."""
    answer = dict(voided.answer)
    payment = voided.payment
    if payment is not None:
        status = await refund(services, payment)
        answer["payment"] = {"channel": payment.channel, "amount": payment.amount,
                             "status": "refunded" if status == "reversed" else "refund_pending"}
    elif voided.remainder and not journalled(services, voided.channel):
        status = await refund_untracked(services, voided.channel, voided.remainder,
                                        answer["currency"], answer["id"], merchant_id)
        answer["payment"] = {"channel": voided.channel, "amount": voided.remainder,
                             "status": "refunded" if status == "reversed" else "refund_pending"}
    return answer
