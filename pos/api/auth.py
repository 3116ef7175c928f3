"""Who is calling: the admin (a bearer token from the configuration or the data folder,
or a report session cookie made from it) or a till (a bearer secret whose SHA-256 is
stored). Secrets are never logged. The router (`pos.api.routing`) decides which of these a
route needs; this module only answers who the caller is."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import time
from typing import Any, Literal

import asyncpg
from aiohttp import web

from pos.errors import forbidden, unauthorized
from pos.service.change_listener import EVERYTHING, ChangeListener
from pos.storage import setup as setup_store
from pos.till.voucher_lookup import Till

TILL_SECRET_PREFIX = "till_"  # noqa: S105 - a prefix, not a secret
_CACHE_SECONDS = 30.0

REPORT_COOKIE = "pos_reports"
REPORT_SESSION_SECONDS = 8 * 3600


@dataclasses.dataclass(frozen=True)
class Admin:
    """The program administrator, and how they proved it."""

    via: Literal["token", "report_session"]


# Who a guarded route's handler is serving; the router puts it on the request.
Principal = Till | Admin


def new_till_secret() -> str:
    return TILL_SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _report_session_mac(admin_hash: bytes, expires: int) -> str:
    return hmac.new(admin_hash, f"reports:{expires}".encode(), hashlib.sha256).hexdigest()


def report_session_cookie(admin_token: str, now: float | None = None) -> str:
    """An expiring HMAC keyed by the admin token: nothing is stored, and changing the
    token signs everyone out."""
    expires = int(now if now is not None else time.time()) + REPORT_SESSION_SECONDS
    return f"{expires}.{_report_session_mac(secret_hash(admin_token), expires)}"


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip() or len(value) > 512:
        return None
    return value.strip()


class Authenticator:
    """Checks admin and till credentials; till look-ups are cached for half a minute so the
    hot path does not pay a database round trip for them. A change to any till, in any
    process, empties the cache at once (`ChangeListener`), so a disabled till is refused by
    every process on its next request."""

    def __init__(self, admin_token: str, pool: asyncpg.Pool[Any],
                 changes: ChangeListener | None = None) -> None:
        self._admin_hash = secret_hash(admin_token)
        self._pool = pool
        self._tills: dict[bytes, tuple[Till, float]] = {}
        # A till disabled or re-paired in any process is forgotten here at once; while the
        # listener cannot hear (database away), the cache is not trusted at all.
        self._changes = changes
        if changes is not None:
            changes.subscribe(self._forget_tills)

    def _forget_tills(self, table: str) -> None:
        if table in ("tills", EVERYTHING):
            self._tills.clear()

    def is_admin(self, request: web.Request) -> bool:
        token = bearer(request)
        return token is not None and hmac.compare_digest(secret_hash(token), self._admin_hash)

    def has_report_session(self, request: web.Request) -> bool:
        value = request.cookies.get(REPORT_COOKIE, "")
        expires_text, _, mac = value.partition(".")
        # Bounded before int(): a cookie of thousands of digits is simply not a session.
        if (not (expires_text.isascii() and expires_text.isdigit()) or len(expires_text) > 12
                or int(expires_text) < time.time()):
            return False
        expected = _report_session_mac(self._admin_hash, int(expires_text))
        # As bytes: comparing str raises on non-ASCII, and a cookie is whatever was sent.
        return hmac.compare_digest(mac.encode(), expected.encode())

    def require_admin(self, request: web.Request) -> None:
        token = bearer(request)
        if token is None:
            raise unauthorized("Sign in with the admin token.")
        if not hmac.compare_digest(secret_hash(token), self._admin_hash):
            if token.startswith(TILL_SECRET_PREFIX):
                raise forbidden("A till cannot do this; it needs the program administrator.")
            raise unauthorized("The admin token is not right.")

    async def till(self, request: web.Request) -> Till | None:
        token = bearer(request)
        if token is None or not token.startswith(TILL_SECRET_PREFIX):
            return None
        digest = secret_hash(token)
        cached = self._tills.get(digest)
        now = time.monotonic()
        hearing = self._changes is None or self._changes.hearing
        if cached is not None and cached[1] > now and hearing:
            return cached[0]
        found = await setup_store.till_by_secret_hash(self._pool, digest)
        if found is None:
            self._tills.pop(digest, None)
            return None
        till = Till(till_id=found[0], merchant_id=found[1])
        if len(self._tills) > 50_000:
            self._tills.clear()
        self._tills[digest] = (till, now + _CACHE_SECONDS)
        return till

    async def require_till(self, request: web.Request) -> Till:
        till = await self.till(request)
        if till is None:
            if self.is_admin(request):
                raise forbidden("Only a paired till can do this.")
            raise unauthorized()
        return till
