"""Throttles shared by every process (migration 0400, `pos_throttle_take`): a token bucket
per key in PostgreSQL, one round trip per check."""

from __future__ import annotations

from pos.db.pool import Executor

# Rows idle this long hold a full bucket again and are removed by the background task.
IDLE_SECONDS = 3600


async def take(conn: Executor, key: str, per_minute: int) -> bool:
    """True when the caller named by `key` may go on (one token taken)."""
    allowed: bool = await conn.fetchval("SELECT pos_throttle_take($1, $2)", key, per_minute)
    return allowed


async def prune(conn: Executor) -> int:
    result = await conn.execute(
        "DELETE FROM throttles WHERE updated_at < now() - make_interval(secs => $1)",
        IDLE_SECONDS)
    return int(result.split()[-1])
