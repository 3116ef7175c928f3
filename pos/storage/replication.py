"""Where a streaming replica stands against the primary: the two positions in the
write-ahead log that decide whether a read may go to the replica (`Services.reader`)."""

from __future__ import annotations

from pos.db.pool import Executor


async def primary_position(primary: Executor) -> str:
    """How far the primary has written: everything committed so far is before it."""
    position: str = await primary.fetchval("SELECT pg_current_wal_lsn()::text")
    return position


async def has_replayed(replica: Executor, position: str) -> bool:
    """True when the replica has replayed the log up to `position` (False on a primary)."""
    replayed: bool | None = await replica.fetchval(
        "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", position)
    return bool(replayed)
