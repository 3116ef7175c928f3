"""Passwords: Argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommendation),
one-time passwords for new accounts, and what a new password must be."""

from __future__ import annotations

import asyncio
import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pos.errors import validation_error
from pos.messages import words

_HASHER = PasswordHasher()  # Argon2id
# No 0/O, 1/l/I: a one-time password is read off a screen and typed.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MIN_LENGTH = 10


@functools.cache
def _dummy_hash() -> str:
    """Verified when the login is unknown, so a wrong login costs the same time as a wrong
    password and does not tell which logins exist. Made on first use, not at import: it
    costs 0.12 s, which every `pos` command would otherwise pay."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def one_time_password() -> str:
    groups = ("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


async def hash_password(password: str) -> str:
    # Argon2 is deliberately slow; off the event loop so tills are not held up.
    return await asyncio.to_thread(_HASHER.hash, password)


async def matches(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _HASHER.verify(password_hash or _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return False
    return await asyncio.to_thread(check) and password_hash is not None


def require_acceptable(password: str, login: str) -> None:
    """Refuse a new password that is short or is the login."""
    if len(password) < MIN_LENGTH:
        raise validation_error(words("密码至少需要 {least} 个字符。",
                                     "A password needs at least {least} characters.",
                                     least=MIN_LENGTH))
    if login.lower() in password.lower():
        raise validation_error(words("密码中不能包含登录名。",
                                     "A password must not contain the login."))
