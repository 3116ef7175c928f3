"""Signing in and out: sessions (an opaque random id in an HttpOnly cookie, stored as its
SHA-256, with a CSRF token), personal API tokens, accounts made with a one-time password,
and throttling wrong passwords per account."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

import asyncpg

from pos.accounts import passwords
from pos.accounts.staff import Staff
from pos.db.pool import Executor
from pos.errors import (
    LOGIN_TAKEN,
    SIGN_IN_FAILED,
    SIGN_IN_THROTTLED,
    WRONG_PASSWORD,
    not_found,
    validation_error,
)
from pos.messages import words
from pos.roles import Role
from pos.storage import accounts as store

PERSONAL_TOKEN_PREFIX = "pat_"  # noqa: S105 - a prefix, not a secret
SESSION_COOKIE = "pos_session"


@dataclasses.dataclass(frozen=True)
class Throttle:
    attempts: int
    lock_seconds: int


@dataclasses.dataclass(frozen=True)
class NewSession:
    cookie_value: str
    csrf_token: str
    account: store.Account


@dataclasses.dataclass(frozen=True)
class NewAccount:
    account: store.Account
    one_time_password: str
    token: str | None


def digest(secret: str) -> bytes:
    # A token or cookie sent as bytes that are not UTF-8 reaches us as lone surrogates:
    # hashed as sent it matches nothing (401), rather than failing to encode (500).
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


def _staff(account: store.Account, via: str, csrf: str | None = None) -> Staff:
    return Staff(role=account.role, via="session" if via == "session" else "personal_token",
                 login=account.login, account_id=account.id, csrf_token=csrf,
                 must_change_password=account.must_change_password)


async def sign_in(pool: Executor, login: str, password: str, *,
                  throttle: Throttle, session_seconds: int) -> NewSession:
    found = await store.credentials(pool, login.strip().lower())
    if found is not None and found.locked_until is not None \
            and found.locked_until > datetime.now(UTC):
        seconds = int((found.locked_until - datetime.now(UTC)).total_seconds()) + 1
        raise SIGN_IN_THROTTLED(
            f"Too many wrong passwords for this login. Try again in {seconds} seconds.",
            retry_after=seconds)
    ok = await passwords.matches(found.password_hash if found else None, password)
    if found is None or not ok or found.account.disabled:
        if found is not None and not ok:
            await store.record_failed_sign_in(pool, found.account.id,
                                              lock_after=throttle.attempts,
                                              lock_seconds=throttle.lock_seconds)
        raise SIGN_IN_FAILED("The login or the password is not right.")
    await store.record_sign_in(pool, found.account.id)
    cookie_value, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    await store.create_session(pool, digest(cookie_value), found.account.id, csrf,
                               session_seconds)
    return NewSession(cookie_value, csrf, found.account)


async def session_staff(pool: Executor, cookie_value: str) -> Staff | None:
    if not cookie_value or len(cookie_value) > 100:
        return None
    found = await store.session_account(pool, digest(cookie_value))
    return None if found is None else _staff(found[0], "session", found[1])


async def token_staff(pool: Executor, token: str) -> Staff | None:
    account = await store.token_account(pool, digest(token))
    return None if account is None else _staff(account, "token")


async def sign_out(pool: Executor, cookie_value: str) -> None:
    await store.revoke_session(pool, digest(cookie_value))


async def sign_out_everywhere(pool: asyncpg.Pool[Any], account_id: str,
                              calling_token: str | None = None) -> tuple[int, int]:
    """End every session of an account and stop its personal tokens, together: whoever
    held a session meanwhile may have made a token of their own, and signing out everywhere
    must not leave them that way back in. A script signing out everywhere with its own
    token keeps that one. (sessions ended, tokens revoked)"""
    keep = None if calling_token is None else digest(calling_token)
    async with pool.acquire() as conn, conn.transaction():
        return (await store.revoke_sessions(conn, account_id),
                await store.revoke_tokens(conn, account_id, keep))


async def change_password(pool: Executor, staff: Staff, current: str,
                          new: str) -> None:
    """Check the current password, set the new one, and end the account's other sessions
    by ending all of them (the console signs in again)."""
    assert staff.account_id is not None
    found = await store.credentials(pool, staff.login)
    if found is None or not await passwords.matches(found.password_hash, current):
        raise WRONG_PASSWORD("The current password is not right.")
    passwords.require_acceptable(new, staff.login)
    if new == current:
        raise validation_error(words("请选择一个在这里没有用过的密码。",
                                     "Choose a password you have not used here."))
    await store.set_password(pool, staff.account_id, await passwords.hash_password(new),
                             must_change=False)
    await store.revoke_sessions(pool, staff.account_id)


async def new_token(pool: Executor, account_id: str,
                    name: str) -> tuple[str, store.PersonalToken]:
    """A personal API token: shown once, stored as its SHA-256."""
    token = PERSONAL_TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = await store.create_token(pool, account_id, name, digest(token))
    return token, record


async def add_account(pool: Executor, login: str, role: Role, *,
                      with_token: bool) -> NewAccount:
    """An account with a one-time password that must be changed at the first sign-in."""
    one_time = passwords.one_time_password()
    account = await store.create_account(pool, login, role,
                                         await passwords.hash_password(one_time))
    if account is None:
        raise LOGIN_TAKEN(f"The login {login} is already taken.")
    token = (await new_token(pool, account.id, "created with the account"))[0] \
        if with_token else None
    return NewAccount(account, one_time, token)


async def reset_password(pool: Executor, account_id: str) -> str:
    """A new one-time password (an administrator's reset); ends the account's sessions."""
    if await store.get_account(pool, account_id) is None:
        raise not_found("account")
    one_time = passwords.one_time_password()
    await store.set_password(pool, account_id, await passwords.hash_password(one_time),
                             must_change=True)
    await store.revoke_sessions(pool, account_id)
    return one_time
