# ruff: noqa: RUF001
"""A route table that also describes itself, so the OpenAPI document is built from the
same declarations aiohttp routes (and a test checks the two agree).

Each route declares its guard (`auth=`) and the table applies it when installed: the guard
runs before the handler, refuses with 401 (no or a wrong credential of the kind the route
takes) or 403 (a credential of another kind), and puts whom it let in on the request
(`pos.api.state.PRINCIPAL`). A handler never checks credentials itself. The "metrics"
kind takes the scrape token only: every other credential is a wrong one (401), and with no
scrape token configured the route is off (404).
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel

from pos.accounts.staff import REPORT_SESSION, Staff
from pos.api.auth import TILL_SECRET_PREFIX as _TILL_PREFIX
from pos.api.auth import Principal, bearer
from pos.api.state import PRINCIPAL, auth
from pos.console import i18n  # the console's names of the roles
from pos.db.actor import Actor, acting
from pos.errors import (
    PASSWORD_CHANGE_REQUIRED,
    AuthProblem,
    Problem,
    forbidden,
    unauthorized,
    validation_error,
)
from pos.messages import Phrase, words
from pos.problem_texts import texts
from pos.roles import ADMITS, NEEDS, StaffKind

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Guard = Callable[[web.Request], Awaitable[Principal]]

# Staff kinds name the roles they admit (`pos.roles.ADMITS`): "admin" (accounts, keys,
# plugins), "officer" (programs, merchants, tills, issuance, vouchers), "finance"
# (settlement), "staff" (any signed-in role: reads). "report_reader" and "report_page" are
# "staff" reads that also take the report session cookie; a browser without a credential
# is sent to the sign-in page by every staff route that answers with HTML. "metrics" is
# Prometheus with the scrape token (`[metrics] token`), which opens nothing else.
Auth = Literal["none", "till", "till_or_admin", "admin", "officer", "finance", "staff",
               "report_reader", "report_page", "metrics"]
STAFF_KINDS: dict[Auth, StaffKind] = {
    "admin": "admin", "officer": "officer", "finance": "finance", "staff": "staff",
    "report_reader": "staff", "report_page": "staff", "till_or_admin": "staff"}

# How OpenAPI describes each guard: any one of these security schemes is enough.
_STAFF_SCHEMES = ("admin", "personal_token", "console_session")
SECURITY: dict[Auth, tuple[str, ...]] = {
    "none": (), "till": ("till",), "till_or_admin": ("till", *_STAFF_SCHEMES),
    **{kind: _STAFF_SCHEMES for kind in ("admin", "officer", "finance", "staff")},
    "report_reader": (*_STAFF_SCHEMES, "report_session"),
    "report_page": (*_STAFF_SCHEMES, "report_session"),
    "metrics": ("metrics",),
}

# While an account must still change its one-time password, its session opens only these.
PASSWORD_CHANGE_PATHS = frozenset({
    "/admin/password", "/v1/me", "/v1/me/password", "/v1/me/sign-out", "/admin/sign-out"})


async def _no_staff(request: web.Request, kind: StaffKind) -> Problem:
    token = bearer(request)
    needs = Phrase(NEEDS[kind])
    # A till's own secret is a credential of another kind (403); a till secret that is no
    # till's is no credential at all (401), like any other wrong token.
    if token is not None and token.startswith(_TILL_PREFIX) \
            and await auth(request).till(request) is not None:
        return forbidden(words("收银台不能做这项操作，须由{needs}办理。",
                               "A till cannot do this; it needs {needs}.", needs=needs))
    if token is not None:
        return unauthorized(words("管理员令牌不正确。", "The admin token is not right."))
    return unauthorized(words("请先登录：这项操作须由{needs}办理。",
                              "Sign in first: this needs {needs}.", needs=needs))


def staff_guard(kind: StaffKind, *, html: bool, sign_in: str = "/admin/login",
                reports: bool = False) -> Guard:
    """Let in staff whose role the kind admits; a browser asking for a page is sent to
    sign in instead of reading a 401. With `reports`, the report session cookie (made from
    the admin token at /reports/login) also opens the route, and nothing else does."""
    admitted = ADMITS[kind]

    async def check(request: web.Request) -> Principal:
        if reports and auth(request).has_report_session(request):
            return REPORT_SESSION
        try:
            staff = await auth(request).staff(request)
        except AuthProblem as problem:
            if html and problem.status == 401 and _wants_page(request):
                raise _to_sign_in(request, sign_in) from None
            raise
        if staff is None:
            if html and _wants_page(request):
                raise _to_sign_in(request, sign_in)
            raise await _no_staff(request, kind)
        if staff.must_change_password and staff.via == "session" \
                and request.path not in PASSWORD_CHANGE_PATHS:
            if html and _wants_page(request):
                raise web.HTTPSeeOther("/admin/password")
            raise PASSWORD_CHANGE_REQUIRED(words(
                "请先设置您自己的密码（初始密码只能用一次）。",
                "Choose your own password first (the one you were given works only once)."))
        if staff.role not in admitted:
            raise forbidden(words("这项操作须由{needs}办理；您登录的角色是{role}。",
                                  "This needs {needs}; you are signed in as {role}.",
                                  needs=Phrase(NEEDS[kind]),
                                  role=Phrase(texts(*i18n.TEXT[f"role_{staff.role}"]))))
        return staff
    return check


def _wants_page(request: web.Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def _to_sign_in(request: web.Request, sign_in: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{sign_in}?next={quote(request.path_qs)}")


async def _till(request: web.Request) -> Principal:
    return await auth(request).require_till(request)


async def _metrics(request: web.Request) -> Principal:
    return auth(request).require_metrics_reader(request)


def _till_or_admin() -> Guard:
    as_admin = staff_guard("staff", html=False)

    async def check(request: web.Request) -> Principal:
        token = bearer(request)
        if token is not None and token.startswith(_TILL_PREFIX):
            return await auth(request).require_till(request)
        return await as_admin(request)
    return check


def guard_for(kind: Auth, *, html: bool = False) -> Guard | None:
    """The check a route of this kind runs first; None for an open route."""
    if kind == "none":
        return None
    if kind == "till":
        return _till
    if kind == "till_or_admin":
        return _till_or_admin()
    if kind == "metrics":
        return _metrics
    if kind == "report_page":
        return staff_guard("staff", html=True, sign_in="/reports/login", reports=True)
    return staff_guard(STAFF_KINDS[kind], html=html, reports=kind == "report_reader")


def guarded(handler: Handler, guard: Guard, action: str) -> Handler:
    """Run the guard, then the handler; a staff member's writes carry them as the actor, so
    the audit log records who did what from where (`pos.db.actor`)."""
    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        caller = await guard(request)
        request[PRINCIPAL] = caller
        if request.query_string and any("\x00" in value for value in request.query.values()):
            # Whatever a route reads from its query may reach PostgreSQL, whose text cannot
            # hold NUL: refused once here, for every route, rather than fail there.
            raise validation_error(words("查询参数中含有 NUL 字符。",
                                         "A query parameter contains a NUL character."))
        if not isinstance(caller, Staff):
            return await handler(request)
        actor = Actor(login=caller.login, role=caller.role, action=action,
                      account_id=caller.account_id, address=request.remote,
                      request_id=request.headers.get("X-Request-Id") or str(uuid.uuid4()))
        with acting(actor):
            return await handler(request)
    return run


@dataclasses.dataclass(frozen=True)
class Query:
    """A query parameter a route reads (every one is optional), as OpenAPI describes it."""

    name: str
    description: str
    schema: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: {"type": "string"})


def whole_number(name: str, description: str, least: int, most: int) -> Query:
    return Query(name, description, {"type": "integer", "minimum": least, "maximum": most})


def one_of(name: str, description: str, values: Sequence[str]) -> Query:
    return Query(name, description, {"type": "string", "enum": list(values)})


def an_id(name: str, description: str) -> Query:
    return Query(name, description, {"type": "string", "format": "uuid"})


@dataclasses.dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth
    body: type[BaseModel] | None
    status: int
    idempotent: bool
    content_type: str
    query: tuple[Query, ...] = ()
    # What the audit log's page calls a write through this route, in both languages (short:
    # `summary` is the API's own description). Every route a staff member writes through
    # has one: tests check each route that is not a GET, and each action the console's
    # walk-through wrote.
    action: Phrase | None = None


class Routes:
    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.specs: list[RouteSpec] = []

    def add(
        self, method: str, path: str, *, summary: str, auth: Auth,
        body: type[BaseModel] | None = None, status: int = 200, idempotent: bool = False,
        content_type: str = "application/json", query: Sequence[Query] = (),
        action: Phrase | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.specs.append(RouteSpec(method, path, handler, summary, auth, body, status,
                                        idempotent, content_type, tuple(query), action))
            return handler
        return register

    # Spelled out rather than **kwargs, so mypy checks every route's `auth` against `Auth`.
    def get(
        self, path: str, *, summary: str, auth: Auth, status: int = 200,
        content_type: str = "application/json", query: Sequence[Query] = (),
        action: Phrase | None = None,
    ) -> Callable[[Handler], Handler]:
        return self.add("GET", path, summary=summary, auth=auth, status=status,
                        content_type=content_type, query=query, action=action)

    def post(
        self, path: str, *, summary: str, auth: Auth, body: type[BaseModel] | None = None,
        status: int = 200, idempotent: bool = False, content_type: str = "application/json",
        query: Sequence[Query] = (), action: Phrase | None = None,
    ) -> Callable[[Handler], Handler]:
        return self.add("POST", path, summary=summary, auth=auth, body=body, status=status,
                        idempotent=idempotent, content_type=content_type, query=query,
                        action=action)

    def patch(
        self, path: str, *, summary: str, auth: Auth, body: type[BaseModel] | None = None,
        status: int = 200, action: Phrase | None = None,
    ) -> Callable[[Handler], Handler]:
        return self.add("PATCH", path, summary=summary, auth=auth, body=body, status=status,
                        action=action)

    def install(self, app: web.Application) -> None:
        for spec in self.specs:
            guard = guard_for(spec.auth, html=spec.content_type == "text/html")
            handler = spec.handler if guard is None else guarded(
                spec.handler, guard, f"{spec.method} {spec.path}: {spec.summary}")
            app.router.add_route(spec.method, spec.path, handler)
