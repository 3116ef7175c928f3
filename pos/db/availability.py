"""Is the database away? Which driver and socket errors mean "PostgreSQL cannot be reached
just now" (an outage the service rides out with 503s) rather than a bug.

asyncpg reports a lost or refused connection in several ways: a refused TCP connection or a
missing Unix socket (the server is down), a connection closed mid-query (the server was
killed), the server shutting down or still starting, too many connections, a timeout. They
all become one `DatabaseUnavailable`, which `pos.api.problems` answers with
`503 service_unavailable` and `Retry-After`. The pool heals by itself: asyncpg replaces a
broken connection on the next acquire, so nothing has to be restarted.
"""

from __future__ import annotations

import asyncpg

from pos.errors import StorageError

# Seconds a client is asked to wait before trying again.
RETRY_AFTER_SECONDS = 3

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
