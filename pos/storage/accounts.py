"""Named accounts, their console sessions and personal API tokens (SQL only).

Secrets arrive here already hashed: passwords as Argon2id strings, session ids and tokens
as SHA-256 digests.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import cast

import asyncpg

from pos.db.pool import Executor
from pos.roles import Role


@dataclasses.dataclass(frozen=True)
class Account:
    id: str
    login: str
    role: Role
    must_change_password: bool
    created_at: datetime
    disabled: bool


@dataclasses.dataclass(frozen=True)
class Credentials:
    """What signing in needs to know about an account."""

    account: Account
    password_hash: str
    failed_sign_ins: int
    locked_until: datetime | None


@dataclasses.dataclass(frozen=True)
class PersonalToken:
    id: str
    name: str
    created_at: datetime
    revoked: bool


_COLUMNS = "id::text, login, role, must_change_password, created_at, disabled_at IS NOT NULL"


def _account(row: asyncpg.Record) -> Account:
    return Account(row[0], row[1], cast(Role, row[2]), row[3], row[4], row[5])


async def create_account(db: Executor, login: str, role: Role,
                         password_hash: str) -> Account | None:
    """The new account; None when the login is taken."""
    row = await db.fetchrow(
        f"""
        INSERT INTO accounts (id, login, role, password_hash) VALUES ($1, $2, $3, $4)
        ON CONFLICT (login) DO NOTHING RETURNING {_COLUMNS}
        """,  # noqa: S608 - a constant column list
        uuid.uuid4(), login, role, password_hash)
    return None if row is None else _account(row)


async def list_accounts(db: Executor) -> list[Account]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM accounts ORDER BY login")  # noqa: S608
    return [_account(r) for r in rows]


async def get_account(db: Executor, account_id: str) -> Account | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM accounts WHERE id = $1", account_id)  # noqa: S608
    return None if row is None else _account(row)


async def account_by_login(db: Executor, login: str) -> Account | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM accounts WHERE login = $1", login)  # noqa: S608
    return None if row is None else _account(row)


async def credentials(db: Executor, login: str) -> Credentials | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS}, password_hash, failed_sign_ins, locked_until "  # noqa: S608
        "FROM accounts WHERE login = $1", login)
    if row is None:
        return None
    return Credentials(_account(row), row["password_hash"], row["failed_sign_ins"],
                       row["locked_until"])


async def record_failed_sign_in(db: Executor, account_id: str, *, lock_after: int,
                                lock_seconds: int) -> None:
    """Count a wrong password; at `lock_after` in a row, lock the account for a while."""
    await db.execute(
        """
        UPDATE accounts
           SET failed_sign_ins = failed_sign_ins + 1,
               locked_until = CASE WHEN failed_sign_ins + 1 >= $2
                                   THEN now() + make_interval(secs => $3) END
         WHERE id = $1
        """, account_id, lock_after, lock_seconds)


async def record_sign_in(db: Executor, account_id: str) -> None:
    await db.execute(
        "UPDATE accounts SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1 "
        "AND (failed_sign_ins <> 0 OR locked_until IS NOT NULL)", account_id)


async def set_password(db: Executor, account_id: str, password_hash: str, *,
                       must_change: bool) -> None:
    await db.execute(
        "UPDATE accounts SET password_hash = $2, must_change_password = $3 WHERE id = $1",
        account_id, password_hash, must_change)


async def set_disabled(db: Executor, account_id: str, disabled: bool) -> bool:
    """False when there is no such account."""
    done = await db.execute(
        "UPDATE accounts SET disabled_at = CASE WHEN $2 THEN now() END WHERE id = $1",
        account_id, disabled)
    if disabled:
        await revoke_sessions(db, account_id)
    return str(done) != "UPDATE 0"


# ------------------------------------------------------------------------------------------
# sessions


async def create_session(db: Executor, id_hash: bytes, account_id: str, csrf_token: str,
                         seconds: int) -> None:
    await db.execute(
        """
        INSERT INTO account_sessions (id_hash, account_id, csrf_token, expires_at)
        VALUES ($1, $2, $3, now() + make_interval(secs => $4))
        """, id_hash, account_id, csrf_token, seconds)


async def session_account(db: Executor, id_hash: bytes) -> tuple[Account, str] | None:
    """The account of a live session and the session's CSRF token."""
    row = await db.fetchrow(
        """
        SELECT a.id::text, a.login, a.role, a.must_change_password, a.created_at,
               a.disabled_at IS NOT NULL, s.csrf_token
          FROM account_sessions s JOIN accounts a ON a.id = s.account_id
         WHERE s.id_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
           AND a.disabled_at IS NULL
        """, id_hash)
    return None if row is None else (_account(row), row["csrf_token"])


async def revoke_session(db: Executor, id_hash: bytes) -> None:
    await db.execute(
        "UPDATE account_sessions SET revoked_at = now() WHERE id_hash = $1 "
        "AND revoked_at IS NULL", id_hash)


async def revoke_sessions(db: Executor, account_id: str) -> int:
    """Sign an account out everywhere; how many sessions ended."""
    done = await db.execute(
        "UPDATE account_sessions SET revoked_at = now() WHERE account_id = $1 "
        "AND revoked_at IS NULL", account_id)
    return int(str(done).rsplit(" ", 1)[-1])


# ------------------------------------------------------------------------------------------
# personal API tokens


async def create_token(db: Executor, account_id: str, name: str,
                       token_hash: bytes) -> PersonalToken:
    row = await db.fetchrow(
        """
        INSERT INTO account_tokens (id, account_id, name, token_hash) VALUES ($1, $2, $3, $4)
        RETURNING id::text, name, created_at, false
        """, uuid.uuid4(), account_id, name, token_hash)
    assert row is not None
    return PersonalToken(*row)


async def token_account(db: Executor, token_hash: bytes) -> Account | None:
    row = await db.fetchrow(
        f"""
        SELECT {", ".join("a." + c for c in _COLUMNS.split(", "))}
          FROM account_tokens t JOIN accounts a ON a.id = t.account_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND a.disabled_at IS NULL
        """, token_hash)  # noqa: S608 - a constant column list
    return None if row is None else _account(row)


async def list_tokens(db: Executor, account_id: str) -> list[PersonalToken]:
    rows = await db.fetch(
        "SELECT id::text, name, created_at, revoked_at IS NOT NULL FROM account_tokens "
        "WHERE account_id = $1 ORDER BY created_at DESC", account_id)
    return [PersonalToken(*r) for r in rows]


async def revoke_tokens(db: Executor, account_id: str, keep: bytes | None = None) -> int:
    """Stop every personal token of an account but the one hashed `keep`; how many were
    live."""
    done = await db.execute(
        "UPDATE account_tokens SET revoked_at = now() WHERE account_id = $1 "
        "AND revoked_at IS NULL AND token_hash IS DISTINCT FROM $2", account_id, keep)
    return int(str(done).rsplit(" ", 1)[-1])


async def revoke_token(db: Executor, account_id: str, token_id: str) -> bool:
    """False when the account has no such live token."""
    done = await db.execute(
        "UPDATE account_tokens SET revoked_at = now() WHERE id = $1 AND account_id = $2 "
        "AND revoked_at IS NULL", token_id, account_id)
    return str(done) != "UPDATE 0"


