"""The event outbox (migration 0010): claim due events, record each listener's success,
schedule retries. Events themselves are written in the redemption's own transaction, at
commit, by the deferred triggers `redemptions_outbox_committed` and
`redemptions_outbox_voided` (function `pos_outbox_redemption_event`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import asyncpg

from pos.db.pool import Executor


@dataclasses.dataclass(frozen=True)
class OutboxEvent:
    id: str
    kind: str
    program_id: str | None
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    done: frozenset[str]  # listeners that already took it
    program: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> OutboxEvent:
        return cls(
            id=str(row["id"]), kind=row["kind"],
            program_id=None if row["program_id"] is None else str(row["program_id"]),
            payload=row["payload"], created_at=row["created_at"], attempts=row["attempts"],
            done=frozenset(row["done"] or ()), program=row["program"])


async def claim_due(pool: Executor, limit: int, lease_seconds: float) -> list[OutboxEvent]:
    """Due events, leased to this worker (other workers skip them until the lease ends),
    with the listeners that already took them and their program's settings."""
    rows = await pool.fetch(
        """
        WITH due AS (
            UPDATE outbox_events e
               SET attempts = e.attempts + 1,
                   locked_until = now() + make_interval(secs => $2)
             WHERE e.id IN (
                   SELECT id FROM outbox_events
                    WHERE delivered_at IS NULL AND failed_at IS NULL
                      AND next_attempt_at <= now()
                      AND (locked_until IS NULL OR locked_until < now())
                    ORDER BY next_attempt_at, created_at
                    LIMIT $1
                      FOR UPDATE SKIP LOCKED)
            RETURNING e.*
        )
        SELECT due.id, due.kind, due.program_id, due.payload, due.created_at, due.attempts,
               ARRAY(SELECT listener FROM outbox_deliveries d WHERE d.event_id = due.id)
                   AS done,
               (SELECT jsonb_build_object(
                       'id', p.id, 'name', p.name, 'currency', p.currency,
                       'restrictions', p.restrictions, 'rule_settings', p.rule_settings,
                       'require_identity', p.require_identity)
                  FROM programs p WHERE p.id = due.program_id) AS program
          FROM due
         ORDER BY due.created_at
        """,
        limit, float(lease_seconds))
    return [OutboxEvent.from_row(r) for r in rows]


async def record_delivery(pool: Executor, event_id: str, listener: str, attempts: int) -> None:
    await pool.execute(
        "INSERT INTO outbox_deliveries (event_id, listener, attempts) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING", event_id, listener, attempts)


async def finish(pool: Executor, event_id: str) -> None:
    await pool.execute(
        "UPDATE outbox_events SET delivered_at = now(), locked_until = NULL, last_error = NULL "
        "WHERE id = $1", event_id)


async def retry_later(pool: Executor, event_id: str, delay_seconds: float, error: str,
                      give_up: bool) -> None:
    await pool.execute(
        """
        UPDATE outbox_events
           SET next_attempt_at = now() + make_interval(secs => $2), locked_until = NULL,
               last_error = $3, failed_at = CASE WHEN $4 THEN now() END
         WHERE id = $1
        """,
        event_id, float(delay_seconds), error[:2000], give_up)



async def prune(pool: asyncpg.Pool[Any], keep_days: int) -> int:
    """Forget delivered events (and their delivery records) older than `keep_days`;
    parked (failed) events are kept for someone to look at."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM outbox_deliveries d USING outbox_events e WHERE d.event_id = e.id "
            "AND e.delivered_at < now() - make_interval(days => $1)", keep_days)
        result: str = await conn.execute(
            "DELETE FROM outbox_events "
            "WHERE delivered_at < now() - make_interval(days => $1)", keep_days)
    return int(result.split()[-1])
