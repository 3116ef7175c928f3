"""The asyncpg pool: one per app, JSON codecs installed on every connection."""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import asyncpg
import asyncpg.pool

from pos.errors import StorageError

# A connection attempt to a server that does not answer fails after this long, so a request
# during an outage gets its 503 in bounded time rather than hanging (asyncpg's default: 60 s).
CONNECT_TIMEOUT_SECONDS = 5.0


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool[Any]:
    try:
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init_connection,
            command_timeout=30, timeout=CONNECT_TIMEOUT_SECONDS,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise StorageError(f"could not connect to PostgreSQL: {exc}") from exc
    assert pool is not None
    return pool


async def connect(url: str) -> asyncpg.Connection[Any]:
    """A single connection, for commands."""
    try:
        conn: asyncpg.Connection[Any] = await asyncpg.connect(
            url, timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StorageError(f"could not connect to PostgreSQL: {exc}") from exc
    await _init_connection(conn)
    return conn


# What storage functions accept: a connection (plain or from the pool) or the pool itself.
Connection: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
Executor: TypeAlias = "Connection | asyncpg.Pool[Any]"
