"""A route table that also describes itself, so the OpenAPI document is built from the
same declarations aiohttp routes (and a test checks the two agree)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Auth = Literal["none", "admin", "till", "till_or_admin"]


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

    def get(self, path: str, **kw: object) -> Callable[[Handler], Handler]:
        return self.add("GET", path, **kw)  # type: ignore[arg-type]

    def post(self, path: str, **kw: object) -> Callable[[Handler], Handler]:
        return self.add("POST", path, **kw)  # type: ignore[arg-type]

    def install(self, app: web.Application) -> None:
        for spec in self.specs:
            app.router.add_route(spec.method, spec.path, spec.handler)
