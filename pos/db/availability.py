# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""Is the database away? Which driver and socket errors mean "PostgreSQL cannot be reached
just now" (an outage the service rides out with 503s) rather than a bug.

asyncpg reports a lost or refused connection in several ways: a refused TCP connection or a
missing Unix socket (the server is down), a connection closed mid-query (the server was
killed), the server shutting down or still starting, too many connections, a timeout. They
all become one `DatabaseUnavailable`, which `pos.api.problems` answers with
`503 service_unavailable` and `Retry-After`. The pool heals by itself: asyncpg replaces a
broken connection on the next acquire, so nothing has to be restarted.

At start, `pos run` waits for a database it cannot reach yet (`wait_until_reachable`),
so a service started before its PostgreSQL (after a reboot, say) comes up by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from pos.errors import StorageError
from pos.messages import words

log = logging.getLogger(__name__)

# Seconds a client is asked to wait before trying again.
RETRY_AFTER_SECONDS = 3
# The longest `pos run` waits at start for the database, whatever is configured (a day).
MAX_START_WAIT_SECONDS = 86_400.0

_AWAY = (
    ConnectionError,  # refused, reset, broken pipe
    asyncpg.PostgresConnectionError,  # class 08: the connection failed or does not exist
    asyncpg.OperatorInterventionError,  # class 57: admin or crash shutdown, cannot connect now
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionRejectionError,
    TimeoutError,  # connect timeout or command timeout
)


class DatabaseUnavailable(StorageError):
    """PostgreSQL cannot be reached just now; the request may be repeated later."""


def is_database_away(exc: BaseException) -> bool:
    if isinstance(exc, (DatabaseUnavailable, *_AWAY)):
        return True
    if isinstance(exc, FileNotFoundError) and exc.filename is None:
        # The server's Unix socket is gone (a named file would carry its name).
        return True
    if isinstance(exc, asyncpg.InternalClientError):
        # Releasing a connection that broke mid-query ("another operation is in progress").
        return "another operation" in str(exc)
    if isinstance(exc, asyncpg.InterfaceError):
        # A pooled connection found closed, or the pool closing: the server went away.
        text = str(exc)
        return "connection is closed" in text or "pool is closing" in text
    return False


async def wait_until_reachable(url: str, seconds: float) -> None:
    """Wait up to `seconds` for PostgreSQL at `url` to take a connection, trying again
    with growing pauses (at most RETRY_AFTER_SECONDS apart) and saying so in the log; then
    raise `DatabaseUnavailable`. The URL is never logged: it may carry a password."""
    deadline = time.monotonic() + max(0.0, min(seconds, MAX_START_WAIT_SECONDS))
    pause = 0.5
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=min(5.0, max(1.0, pause * 2)))
        except Exception as exc:
            if not is_database_away(exc) and not isinstance(exc, OSError):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseUnavailable(words(
                    "{seconds} 秒内无法连接 PostgreSQL（{error}）",
                    "PostgreSQL could not be reached within {seconds} s ({error})",
                    seconds=f"{seconds:g}", error=type(exc).__name__)) from exc
            log.warning("the database cannot be reached yet (%s); trying again in %.1f s",
                        type(exc).__name__, min(pause, left))
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, RETRY_AFTER_SECONDS)
            continue
        await conn.close()
        return
