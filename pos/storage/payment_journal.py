"""The journal of money moved through payment channels (migration 0011), and provider
webhooks taken. Every state change is one conditional UPDATE, so the till's request and the
background task can never both act on the same payment."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import asyncpg

from pos.db.pool import Executor


@dataclasses.dataclass(frozen=True)
class Payment:
    id: str
    till_id: str
    idem_key: str
    channel: str
    amount: int
    currency: str
    provider_key: str
    status: str
    reference: str | None
    redemption_id: str | None
    attempts: int

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Payment:
        return cls(
            id=str(row["id"]), till_id=str(row["till_id"]), idem_key=row["idem_key"],
            channel=row["channel"], amount=row["amount"], currency=row["currency"].strip(),
            provider_key=row["provider_key"], status=row["status"],
            reference=row["reference"],
            redemption_id=None if row["redemption_id"] is None else str(row["redemption_id"]),
            attempts=row["attempts"])


async def start_collect(
    pool: Executor, till_id: str, idem_key: str, channel: str, amount: int, currency: str
) -> Payment:
    """The payment to collect for this request: a retry of a request whose earlier attempt
    died mid-way reuses that attempt (same provider key, so the provider answers once);
    anything else starts a fresh one."""
    row = await pool.fetchrow(
        """
        UPDATE channel_payments SET updated_at = now()
         WHERE id = (SELECT id FROM channel_payments
                      WHERE till_id = $1 AND idem_key = $2 AND channel = $3 AND amount = $4
                        AND currency = $5 AND status IN ('collecting', 'collected')
                      ORDER BY created_at DESC LIMIT 1)
           AND status IN ('collecting', 'collected')
        RETURNING *
        """,
        till_id, idem_key, channel, amount, currency)
    if row is None:
        payment_id = uuid.uuid4()
        row = await pool.fetchrow(
            """
            INSERT INTO channel_payments (id, till_id, idem_key, channel, amount, currency,
                                          provider_key, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, 'collecting')
            RETURNING *
            """,
            payment_id, till_id, idem_key, channel, amount, currency, f"pos-{payment_id}")
    assert row is not None
    return Payment.from_row(row)


async def mark(pool: Executor, payment_id: str, status: str, *, expect: tuple[str, ...],
               reference: str | None = None, error: str | None = None) -> bool:
    """Move a payment to `status` if it is in one of `expect`; False if it was not."""
    found = await pool.fetchval(
        """
        UPDATE channel_payments
           SET status = $2, reference = coalesce($3, reference), last_error = $4,
               next_attempt_at = CASE WHEN $2 = 'refund_pending' THEN now() END,
               updated_at = now()
         WHERE id = $1 AND status = ANY($5::text[])
        RETURNING 1
        """,
        payment_id, status, reference, error, list(expect))
    return found is not None


async def status(pool: Executor, payment_id: str) -> str | None:
    found: str | None = await pool.fetchval(
        "SELECT status FROM channel_payments WHERE id = $1", payment_id)
    return found


async def bind(conn: Executor, payment_id: str, redemption_id: str) -> bool:
    """In the redemption's transaction: the collected payment now belongs to it."""
    found = await conn.fetchval(
        "UPDATE channel_payments SET status = 'bound', redemption_id = $2, updated_at = now() "
        "WHERE id = $1 AND status = 'collected' RETURNING 1",
        payment_id, redemption_id)
    return found is not None


async def refund_on_void(conn: Executor, redemption_id: str) -> Payment | None:
    """In the void's transaction: the redemption's payment must now be given back."""
    row = await conn.fetchrow(
        "UPDATE channel_payments SET status = 'refund_pending', next_attempt_at = now(), "
        "updated_at = now() WHERE redemption_id = $1 AND status = 'bound' RETURNING *",
        redemption_id)
    return None if row is None else Payment.from_row(row)


async def claim_due(pool: Executor, limit: int, stale_seconds: float,
                    lease_seconds: float) -> list[Payment]:
    """Payments the background task must reverse: refunds still owed, and collections
    nobody bound within `stale_seconds` (the request died; its till gave up). Each is
    leased by pushing its next attempt into the future."""
    rows = await pool.fetch(
        """
        UPDATE channel_payments p
           SET status = 'refund_pending', attempts = p.attempts + 1,
               next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
         WHERE p.id IN (
               SELECT id FROM channel_payments
                WHERE (status = 'refund_pending' AND next_attempt_at <= now())
                   OR (status IN ('collecting', 'collected')
                       AND updated_at < now() - make_interval(secs => $2))
                ORDER BY next_attempt_at NULLS FIRST
                LIMIT $1
                  FOR UPDATE SKIP LOCKED)
        RETURNING p.*
        """,
        limit, float(stale_seconds), float(lease_seconds))
    return [Payment.from_row(r) for r in rows]


async def retry_later(pool: Executor, payment_id: str, delay_seconds: float, error: str) -> None:
    await pool.execute(
        "UPDATE channel_payments SET next_attempt_at = now() + make_interval(secs => $2), "
        "last_error = $3, updated_at = now() WHERE id = $1 AND status = 'refund_pending'",
        payment_id, float(delay_seconds), error)


async def for_redemption(pool: Executor, redemption_id: str) -> Payment | None:
    row = await pool.fetchrow(
        "SELECT * FROM channel_payments WHERE redemption_id = $1", redemption_id)
    return None if row is None else Payment.from_row(row)


async def record_webhook(
    pool: asyncpg.Pool[Any], channel: str, event_id: str, fingerprint: str, type_: str,
    reference: str | None, data: Any,
) -> str:
    """Take a provider event once: 'processed', 'duplicate' (same event, new delivery) or
    'replayed' (the very same signed delivery again). Its effect on the journal is written
    in the same transaction, so a duplicate can never apply it twice."""
    async with pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetchval(
            """
            INSERT INTO channel_webhook_events (channel, event_id, fingerprint, type,
                                                reference, data)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT DO NOTHING
            RETURNING 1
            """,
            channel, event_id, fingerprint, type_, reference, data)
        if inserted is None:
            same = await conn.fetchval(
                "SELECT 1 FROM channel_webhook_events WHERE channel = $1 AND fingerprint = $2",
                channel, fingerprint)
            return "replayed" if same else "duplicate"
        if reference is not None and type_ in ("refund.succeeded", "payment.reversed"):
            # The provider confirms money went back: stop retrying the refund.
            await conn.execute(
                "UPDATE channel_payments SET status = 'refunded', updated_at = now() "
                "WHERE channel = $1 AND reference = $2 AND status = 'refund_pending'",
                channel, reference)
    return "processed"
