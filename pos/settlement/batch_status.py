# ruff: noqa: RUF001
"""A batch's life: draft -> approved -> paid, or approved -> failed (and failed ->
approved again to retry). Each step records who and when; paying can go through a payment
channel's `payout`, under the batch's row lock so a batch is never paid out twice."""

from __future__ import annotations

from typing import Any

from pos.errors import (
    INVALID_TRANSITION,
    NOTHING_TO_PAY,
    PluginProblem,
    validation_error,
)
from pos.messages import words
from pos.plugin.types import ChannelRequest
from pos.service.services import Services
from pos.storage import settlements as store


async def move(services: Services, batch_id: str, action: str, actor: str, *,
               note: str | None = None, reference: str | None = None) -> dict[str, Any]:
    async with services.pool.acquire() as conn, conn.transaction():
        await store.transition(conn, batch_id, action, actor, note=note, reference=reference)
    return await store.get_batch(services.pool, batch_id)


async def payout(services: Services, batch_id: str, channel_name: str,
                 actor: str) -> dict[str, Any]:
    """Pay an approved batch through a channel: paid with the provider's reference when it
    says so, failed with its message when it refuses."""
    if services.plugins.channel(channel_name) is None:
        raise validation_error(words("没有安装名为 {channel} 的支付方式。",
                                     "No payment channel is installed with the name "
                                     "{channel}.", channel=repr(channel_name)))
    async with services.pool.acquire() as conn, conn.transaction():
        status = await store.lock_batch(conn, batch_id)
        if status != "approved":
            raise INVALID_TRANSITION(
                f"A settlement batch that is {status} cannot be paid out.", batch_status=status)
        header = await store.batch_header(conn, batch_id)  # read under the lock
        if header.total <= 0:
            raise NOTHING_TO_PAY("This batch does not owe the merchant "
                               "anything; mark it paid once it is offset.")
        request = ChannelRequest(
            channel=channel_name, amount=header.total, currency=header.currency,
            # Stable per approval: a provider that sees the same key again pays once.
            idempotency_key=f"settlement-{batch_id}-{header.approvals}",
            merchant_id=header.merchant_id,
            metadata={"batch_id": batch_id, "merchant_name": header.merchant_name,
                      "account_id": header.payee.account_id if header.payee else None},
        )
        outcome = await services.plugins.call_channel(channel_name, "payout", request)
        if outcome.state == "ok":
            await store.transition(conn, batch_id, "paid", actor,
                                   note=outcome.message or None, reference=outcome.reference)
        elif outcome.state == "declined":
            await store.transition(conn, batch_id, "failed", actor,
                                   note=outcome.message or "the channel refused the payout")
        else:
            # Nobody knows whether money moved: leave the batch approved. A retry sends the
            # same idempotency key, so a provider that did act pays once.
            raise PluginProblem(outcome.plugin, words(
                "支付渠道没有给出明确答复；批次仍为已批准。再次付款前，请先向支付服务商核实。",
                "The payment channel did not give a clear answer; the batch is still "
                "approved. Check with the provider before paying again."))
    return await store.get_batch(services.pool, batch_id)
