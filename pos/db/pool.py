# ruff: noqa: RUF001
"""The asyncpg pool: one per app, JSON codecs installed on every connection.

A connection goes back to the pool without asyncpg's reset query (advisory unlock, CLOSE
ALL, UNLISTEN, RESET ALL: a round trip on every release, so on every pool call): the
service leaves no session state behind (no SET, LISTEN, session advisory lock or
cursor outside a transaction; the migration lock is released by the migration itself).
The one exception is the audit log's actor (`pos.db.actor`): a connection that carried a
person's actor gets the full reset, so the next till request on it carries none.
asyncpg still rolls back a transaction left open before any reset runs.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeAlias

import asyncpg
import asyncpg.pool

from pos.db.actor import apply_actor, reset_if_tagged
from pos.db.availability import is_database_away
from pos.errors import StorageError
from pos.messages import Phrase, words

# A connection attempt to a server that does not answer fails after this long, so a request
# during an outage gets its 503 in bounded time rather than hanging (asyncpg's default: 60 s).
CONNECT_TIMEOUT_SECONDS = 5.0


class _OutageInOneLine(logging.Filter):
    """asyncpg's pool logs every failed try to restore its floor of connections with the
    whole trace. While the database is away that is the outage the service expects (each
    request it refuses is logged once, as a warning): the line keeps the error's name and
    drops the trace. Any other failure keeps its trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_database_away(error):
            record.msg = f"{record.msg} ({type(error).__name__})"
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("asyncpg.pool").addFilter(_OutageInOneLine())


def _unreachable(exc: Exception) -> Phrase:
    return words("无法连接 PostgreSQL：{reason}", "could not connect to PostgreSQL: {reason}",
                 reason=exc)


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )



async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool[Any]:
    try:
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init_connection,
            # Tags each acquired connection with who is acting, for the audit log; only a
            # tagged connection is reset when it goes back.
            setup=apply_actor, reset=reset_if_tagged,
            command_timeout=30, timeout=CONNECT_TIMEOUT_SECONDS,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise StorageError(_unreachable(exc)) from exc
    assert pool is not None
    return pool


async def connect(url: str) -> asyncpg.Connection[Any]:
    """A single connection, for commands."""
    try:
        conn: asyncpg.Connection[Any] = await asyncpg.connect(
            url, timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StorageError(_unreachable(exc)) from exc
    await _init_connection(conn)
    return conn


# What storage functions accept: a connection (plain or from the pool) or the pool itself.
Connection: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
Executor: TypeAlias = "Connection | asyncpg.Pool[Any]"
