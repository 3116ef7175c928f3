"""The one place where database driver errors become the service's own errors.

Storage functions run the statements that can fail for a reason the service expects inside
`translated()`. It reads the error's SQLSTATE (never its message text) and raises what the
caller can act on; nothing above `pos.storage` ever sees an asyncpg exception.

    SQLSTATE                                  raised as
    23505 unique_violation                    DuplicateRow (names the constraint)
    23503 foreign_key_violation               MissingReference (names the constraint)
    23514 check_violation, 22xxx data errors  RejectedValue
    40001 serialization_failure,              Problem `try_again` (503): the transaction
    40P01 deadlock_detected                   was rolled back, nothing was written
    PV001 idempotency lease lost              LeaseLost: raised by `pos_redeem` and
                                              `pos_void` (migration 0002)
    08xxx, 57xxx, a closed connection         DatabaseUnavailable (an outage: 503)
    anything else                             StorageError

asyncpg reports a value it cannot even send (a malformed uuid) as 22000 too, so it is a
`RejectedValue`. Every class here is a `StorageError`, so a surprise still reaches the one
place that turns errors into answers, as an error of ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from pos.db.availability import DatabaseUnavailable, is_database_away
from pos.errors import TRY_AGAIN, Problem, StorageError

UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
CHECK_VIOLATION = "23514"
DATA_EXCEPTION_CLASS = "22"
SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
# Our own state, raised by the PL/pgSQL of migration 0002 (class PV is not PostgreSQL's).
LEASE_LOST = "PV001"


class DriverError(StorageError):
    """A database refusal the caller may turn into an outcome; `constraint` is the
    constraint the database named, if any."""

    def __init__(self, sqlstate: str | None, constraint: str | None = None) -> None:
        super().__init__(f"database refused the statement (SQLSTATE {sqlstate})")
        self.sqlstate = sqlstate
        self.constraint = constraint


class DuplicateRow(DriverError):
    """A unique key already holds this value (23505)."""


class MissingReference(DriverError):
    """A row refers to one that does not exist (23503)."""


class RejectedValue(DriverError):
    """A value the column or a check does not accept (22xxx, 23514, or unsendable)."""


class LeaseLost(DriverError):
    """The idempotency lease ran out and another attempt took the key (PV001)."""


def try_again() -> Problem:
    return TRY_AGAIN("The database was busy with another change to the same records. "
        "Nothing was changed; try again.")


def translate(exc: asyncpg.PostgresError | asyncpg.InterfaceError) -> StorageError | Problem:
    """What `exc` means to the service, decided by its SQLSTATE."""
    if not isinstance(exc, asyncpg.PostgresError):
        # The connection broke or was misused: nothing the caller can act on.
        return StorageError(f"database driver error: {type(exc).__name__}")
    state: str = exc.sqlstate or ""
    constraint: str | None = getattr(exc, "constraint_name", None)
    if state == UNIQUE_VIOLATION:
        return DuplicateRow(state, constraint)
    if state == FOREIGN_KEY_VIOLATION:
        return MissingReference(state, constraint)
    if state == CHECK_VIOLATION or state.startswith(DATA_EXCEPTION_CLASS):
        return RejectedValue(state, constraint)
    if state in (SERIALIZATION_FAILURE, DEADLOCK_DETECTED):
        return try_again()
    if state == LEASE_LOST:
        return LeaseLost(state)
    return StorageError(f"database error (SQLSTATE {state})")


@contextmanager
def translated() -> Iterator[None]:
    """Run statements whose driver errors must reach the caller as the service's own. A
    connection lost or refused mid-statement is an outage, not a refusal: it is raised as
    `DatabaseUnavailable` (answered 503 with Retry-After; the statement's transaction was
    rolled back by the server, or never reached it)."""
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        if is_database_away(exc):
            raise DatabaseUnavailable(f"database unavailable: {type(exc).__name__}") from exc
        raise translate(exc) from exc
