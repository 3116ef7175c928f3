"""What `/readyz` and `/metrics` read from the database: a ping and the outbox backlog."""

from __future__ import annotations

import dataclasses

from pos.db.pool import Executor


@dataclasses.dataclass(frozen=True)
class OutboxBacklog:
    waiting: int  # events not yet delivered to every listener, nor given up on
    oldest_age_seconds: float  # how long the oldest of them has waited (0 when none)
    failed: int  # events given up on after their last attempt


async def ping(conn: Executor) -> None:
    await conn.fetchval("SELECT 1")


async def outbox_backlog(conn: Executor) -> OutboxBacklog:
    row = await conn.fetchrow(
        """
        SELECT w.waiting, w.oldest,
               (SELECT count(*) FROM outbox_events
                 WHERE failed_at IS NOT NULL AND delivered_at IS NULL) AS failed
          FROM (SELECT count(*) AS waiting,
                       COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
                           AS oldest
                  FROM outbox_events
                 WHERE delivered_at IS NULL AND failed_at IS NULL) AS w
        """)
    assert row is not None
    return OutboxBacklog(int(row["waiting"]), float(row["oldest"]), int(row["failed"]))
