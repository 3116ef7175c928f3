"""A route table that also describes itself, so the OpenAPI document is built from the
same declarations aiohttp routes (and a test checks the two agree).

Each route declares its guard (`auth=`) and the table applies it when installed: the guard
runs before the handler, refuses with 401 (no or a wrong credential of the kind the route
takes) or 403 (a credential of another kind), and puts whom it let in on the request
(`pos.api.state.PRINCIPAL`). A handler never checks credentials itself.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from typing import Literal, assert_never
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel

from pos.api.auth import Admin, Principal
from pos.api.state import PRINCIPAL, auth

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Guard = Callable[[web.Request], Awaitable[Principal]]

# "report_reader": the admin token or a report session cookie (reports' JSON and CSV);
# "report_page": the same, but a browser with neither is sent to the sign-in form.
Auth = Literal["none", "admin", "till", "till_or_admin", "report_reader", "report_page"]

# How OpenAPI describes each guard: any one of these security schemes is enough.
SECURITY: dict[Auth, tuple[str, ...]] = {
    "none": (), "admin": ("admin",), "till": ("till",), "till_or_admin": ("till", "admin"),
    "report_reader": ("admin", "report_session"), "report_page": ("admin", "report_session"),
}

_BY_TOKEN = Admin(via="token")
_BY_SESSION = Admin(via="report_session")


async def _admin(request: web.Request) -> Principal:
    auth(request).require_admin(request)
    return _BY_TOKEN


async def _till(request: web.Request) -> Principal:
    return await auth(request).require_till(request)


async def _till_or_admin(request: web.Request) -> Principal:
    authenticator = auth(request)
    if authenticator.is_admin(request):
        return _BY_TOKEN
    return await authenticator.require_till(request)


async def _report_reader(request: web.Request) -> Principal:
    if auth(request).has_report_session(request):
        return _BY_SESSION
    return await _admin(request)


async def _report_page(request: web.Request) -> Principal:
    authenticator = auth(request)
    if authenticator.has_report_session(request):
        return _BY_SESSION
    if authenticator.is_admin(request):
        return _BY_TOKEN
    if "text/html" in request.headers.get("Accept", ""):
        raise web.HTTPSeeOther(f"/reports/login?next={quote(request.path)}")
    return await _admin(request)


def guard_for(kind: Auth) -> Guard | None:
    """The check a route of this kind runs first; None for an open route."""
    if kind == "none":
        return None
    if kind == "admin":
        return _admin
    if kind == "till":
        return _till
    if kind == "till_or_admin":
        return _till_or_admin
    if kind == "report_reader":
        return _report_reader
    if kind == "report_page":
        return _report_page
    assert_never(kind)


def guarded(handler: Handler, guard: Guard) -> Handler:
    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        request[PRINCIPAL] = await guard(request)
        return await handler(request)
    return run


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


class Routes:
    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.specs: list[RouteSpec] = []

    def add(
        self, method: str, path: str, *, summary: str, auth: Auth,
        body: type[BaseModel] | None = None, status: int = 200, idempotent: bool = False,
        content_type: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.specs.append(RouteSpec(method, path, handler, summary, auth, body, status,
                                        idempotent, content_type))
            return handler
        return register

    # Spelled out rather than **kwargs, so mypy checks every route's `auth` against `Auth`.
    def get(
        self, path: str, *, summary: str, auth: Auth, status: int = 200,
        content_type: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        return self.add("GET", path, summary=summary, auth=auth, status=status,
                        content_type=content_type)

    def post(
        self, path: str, *, summary: str, auth: Auth, body: type[BaseModel] | None = None,
        status: int = 200, idempotent: bool = False, content_type: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        return self.add("POST", path, summary=summary, auth=auth, body=body, status=status,
                        idempotent=idempotent, content_type=content_type)

    def patch(
        self, path: str, *, summary: str, auth: Auth, body: type[BaseModel] | None = None,
        status: int = 200,
    ) -> Callable[[Handler], Handler]:
        return self.add("PATCH", path, summary=summary, auth=auth, body=body, status=status)

    def install(self, app: web.Application) -> None:
        for spec in self.specs:
            guard = guard_for(spec.auth)
            handler = spec.handler if guard is None else guarded(spec.handler, guard)
            app.router.add_route(spec.method, spec.path, handler)
