"""The event outbox (migration 0010): claim due events, then record what became of the
whole claimed batch in one statement (each listener's success, delivered events, retries).
Events themselves are written in the redemption's own transaction, at commit, by the
deferred triggers `redemptions_outbox_committed` and `redemptions_outbox_voided` (function
`pos_outbox_redemption_event`, made cheap in migration 0600: it keeps the redemption row,
and the lines are joined here, when the event is claimed)."""

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
        SELECT due.id, due.kind, due.program_id, due.created_at, due.attempts,
               CASE WHEN due.redemption_id IS NULL OR due.payload ? 'lines' THEN due.payload
                    ELSE due.payload || jsonb_build_object('lines', coalesce(
                        (SELECT jsonb_agg(to_jsonb(l) - 'redemption_id' ORDER BY l.line_no)
                           FROM redemption_lines l
                          WHERE l.redemption_id = due.redemption_id), '[]'::jsonb))
               END AS payload,
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


@dataclasses.dataclass
class BatchOutcome:
    """What became of a claimed batch, written back in one statement (`settle`)."""

    # (event id, listener, attempt) for each listener that took an event
    taken: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    delivered: list[str] = dataclasses.field(default_factory=list)  # every listener took it
    # (event id, seconds until the next attempt, error, give up) for the others
    retries: list[tuple[str, float, str, bool]] = dataclasses.field(default_factory=list)


async def settle(pool: Executor, outcome: BatchOutcome) -> None:
    """Record a batch: listeners' successes, delivered events, retries, in one statement
    (one commit per batch rather than two per event)."""
    if not (outcome.taken or outcome.delivered or outcome.retries):
        return
    await pool.execute(
        """
        WITH taken AS (
            INSERT INTO outbox_deliveries (event_id, listener, attempts)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::integer[])
            ON CONFLICT DO NOTHING
        ), delivered AS (
            UPDATE outbox_events
               SET delivered_at = now(), locked_until = NULL, last_error = NULL
             WHERE id = ANY($4::uuid[])
        )
        UPDATE outbox_events e
           SET next_attempt_at = now() + make_interval(secs => r.delay), locked_until = NULL,
               last_error = r.error, failed_at = CASE WHEN r.give_up THEN now() END
          FROM unnest($5::uuid[], $6::float8[], $7::text[], $8::boolean[])
               AS r(id, delay, error, give_up)
         WHERE e.id = r.id
        """,
        [t[0] for t in outcome.taken], [t[1] for t in outcome.taken],
        [t[2] for t in outcome.taken], outcome.delivered,
        [r[0] for r in outcome.retries], [float(r[1]) for r in outcome.retries],
        [r[2][:2000] for r in outcome.retries], [r[3] for r in outcome.retries])


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
