"""The event outbox (migration 0010): claim due events, then record what became of the
whole claimed batch in one statement, one update per event (the listeners that took it,
kept on the event since migration 0731; delivered, or when to retry).

Events themselves are written in the redemption's own transaction: by `pos_redeem`'s
statement (migration 0730), and for offline sales and voids by the deferred triggers
`redemptions_outbox_committed` and `redemptions_outbox_voided` (function
`pos_outbox_redemption_event`, migration 0600). The triggers keep the redemption row;
`pos_redeem`'s events keep none, and the row as inserted (only a void changes it) is read
here, when the event is claimed, with the lines of either."""

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
            done=frozenset(row["taken"] or ()), program=row["program"])


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
                    ELSE coalesce(due.payload, (
                        -- A sale's event (migration 0730): the row as it was inserted.
                        SELECT to_jsonb(r) || jsonb_build_object(
                                   'status', 'captured', 'voided_at', NULL,
                                   'voided_by_till', NULL)
                          FROM redemptions r WHERE r.id = due.redemption_id))
                         || jsonb_build_object('lines', coalesce(
                        (SELECT jsonb_agg(to_jsonb(l) - 'redemption_id' ORDER BY l.line_no)
                           FROM redemption_lines l
                          WHERE l.redemption_id = due.redemption_id), '[]'::jsonb))
               END AS payload,
               due.taken,
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
    """Record a batch in one statement, one update per event: the listeners that took it,
    and delivered, or when it is tried again (or given up)."""
    events: dict[str, dict[str, Any]] = {}

    def event(event_id: str) -> dict[str, Any]:
        return events.setdefault(event_id, {"taken": None, "delivered": False,
                                            "delay": 0.0, "error": None, "give_up": False})

    for event_id, listener, attempt in outcome.taken:
        taken = event(event_id)
        taken["taken"] = {**(taken["taken"] or {}), listener: attempt}
    for event_id in outcome.delivered:
        event(event_id)["delivered"] = True
    for event_id, delay, error, give_up in outcome.retries:
        event(event_id).update(delay=float(delay), error=error[:2000], give_up=give_up)
    if not events:
        return
    rows = list(events.values())
    await pool.execute(
        """
        UPDATE outbox_events e
           SET taken = CASE WHEN o.taken IS NULL THEN e.taken
                            ELSE coalesce(e.taken, '{}') || o.taken END,
               delivered_at = CASE WHEN o.delivered THEN now() END,
               next_attempt_at = CASE WHEN o.delivered THEN e.next_attempt_at
                                      ELSE now() + make_interval(secs => o.delay) END,
               failed_at = CASE WHEN o.give_up THEN now() END,
               locked_until = NULL, last_error = o.error
          FROM unnest($1::uuid[], $2::jsonb[], $3::boolean[], $4::float8[], $5::text[],
                      $6::boolean[]) AS o(id, taken, delivered, delay, error, give_up)
         WHERE e.id = o.id
        """,
        list(events), [r["taken"] for r in rows], [r["delivered"] for r in rows],
        [r["delay"] for r in rows], [r["error"] for r in rows], [r["give_up"] for r in rows])


async def prune(pool: Executor, keep_days: int) -> int:
    """Forget delivered events older than `keep_days`; parked (failed) events are kept for
    someone to look at."""
    result: str = await pool.execute(
        "DELETE FROM outbox_events WHERE delivered_at < now() - make_interval(days => $1)",
        keep_days)
    return int(result.split()[-1])
