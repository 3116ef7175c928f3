# ruff: noqa: RUF001
"""Who is calling: staff (a named account's console session cookie or personal API token,
or the bootstrap admin token from the configuration or the data folder, or a report
session cookie made from it), a till (a bearer secret whose SHA-256 is stored), or
Prometheus (the scrape token of `[metrics] token`, which opens `/metrics` only). Secrets
are never logged; only their SHA-256 is kept and compared, in constant time. The router
(`pos.api.routing`) decides which of these a route needs and which roles it admits; this
module only answers who the caller is."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import time
from typing import Any

import asyncpg
from aiohttp import web

from pos.accounts import signing_in
from pos.accounts.staff import BOOTSTRAP, Staff
from pos.errors import CSRF_FAILED, NOT_FOUND, UNAUTHORIZED, forbidden, unauthorized
from pos.messages import msg, words
from pos.service.change_listener import EVERYTHING, ChangeListener
from pos.storage import setup as setup_store
from pos.till.voucher_lookup import Till

TILL_SECRET_PREFIX = "till_"  # noqa: S105 - a prefix, not a secret
_CACHE_SECONDS = 30.0

REPORT_COOKIE = "pos_reports"
REPORT_SESSION_SECONDS = 8 * 3600


@dataclasses.dataclass(frozen=True)
class MetricsReader:
    """Whoever holds the scrape token (Prometheus): reads `/metrics`, nothing else."""


METRICS_READER = MetricsReader()

# Who a guarded route's handler is serving; the router puts it on the request.
Principal = Till | Staff | MetricsReader
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_till_secret() -> str:
    return TILL_SECRET_PREFIX + secrets.token_urlsafe(32)


# A till's, the admin's or a scrape token's SHA-256, as an account's token's is hashed
# (bytes that are not UTF-8 hashed as sent: they match nothing, never fail).
secret_hash = signing_in.digest


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
                 changes: ChangeListener | None = None, *,
                 metrics_token: str | None = None) -> None:
        self._admin_hash = secret_hash(admin_token)
        # None: /metrics is off (see `pos.service.metrics_token`).
        self._metrics_hash = None if metrics_token is None else secret_hash(metrics_token)
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

    def require_metrics_reader(self, request: web.Request) -> MetricsReader:
        """Let in the scrape token only: any other credential, the admin token included, is
        simply not it (401). With no scrape token configured the endpoint is off (404),
        whatever is sent: no credential could be right, so it is not the caller's."""
        if self._metrics_hash is None:
            raise NOT_FOUND(msg("not_found.metrics"))
        token = bearer(request)
        if token is None or not hmac.compare_digest(secret_hash(token), self._metrics_hash):
            raise UNAUTHORIZED(msg("unauthorized.metrics"))
        return METRICS_READER

    def has_report_session(self, request: web.Request) -> bool:
        value = request.cookies.get(REPORT_COOKIE, "")
        expires_text, _, mac = value.partition(".")
        # Bounded before int(): a cookie of thousands of digits is simply not a session.
        if (not (expires_text.isascii() and expires_text.isdigit()) or len(expires_text) > 12
                or int(expires_text) < time.time()):
            return False
        expected = _report_session_mac(self._admin_hash, int(expires_text))
        # As bytes: comparing str raises on non-ASCII, and a cookie is whatever was sent.
        return hmac.compare_digest(mac.encode("utf-8", "surrogateescape"), expected.encode())

    async def staff(self, request: web.Request) -> Staff | None:
        """The staff member calling, or None when the request carries no staff credential.
        A bearer token that is neither a till's nor staff's is refused here (401); a
        console session's unsafe request without its CSRF token is refused (403)."""
        token = bearer(request)
        if token is not None:
            if hmac.compare_digest(secret_hash(token), self._admin_hash):
                return BOOTSTRAP
            if token.startswith(signing_in.PERSONAL_TOKEN_PREFIX):
                found = await signing_in.token_staff(self._pool, token)
                if found is None:
                    raise unauthorized(words("个人令牌不正确或已被撤销。",
                                         "This personal token is not right or was revoked."))
                return found
            return None
        session = request.cookies.get(signing_in.SESSION_COOKIE)
        if session:
            found = await signing_in.session_staff(self._pool, session)
            if found is None:
                raise unauthorized(words("登录已失效，请重新登录。",
                                         "Your session has ended. Sign in again."))
            if request.method not in _SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not sent and request.content_type == "application/x-www-form-urlencoded":
                    # A plain form (signing out works without script) sends it as a field.
                    field = (await request.post()).get("csrf")
                    sent = field if isinstance(field, str) else ""
                assert found.csrf_token is not None
                if not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"),
                                           found.csrf_token.encode()):
                    raise CSRF_FAILED(words(
                        "这个请求不是从控制台页面发出的，请刷新页面后重试。",
                        "This request did not come from the console page. Reload the page "
                        "and try again."))
            return found
        return None

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
            # A staff member's good credential is of another kind (403), not a wrong one.
            if self.is_admin(request) or await self._is_staff(request):
                raise forbidden(words("只有已配对的收银台才能做这项操作。",
                                      "Only a paired till can do this."))
            raise unauthorized()
        return till

    async def _is_staff(self, request: web.Request) -> bool:
        """Whether a personal token or console session names a live account (no CSRF check:
        nothing is let in on it)."""
        token = bearer(request)
        if token is not None:
            return token.startswith(signing_in.PERSONAL_TOKEN_PREFIX) \
                and await signing_in.token_staff(self._pool, token) is not None
        session = request.cookies.get(signing_in.SESSION_COOKIE)
        return session is not None \
            and await signing_in.session_staff(self._pool, session) is not None
