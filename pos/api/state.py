"""Typed keys of the app's and the request's state, and small helpers every route module
uses."""

from __future__ import annotations

import uuid
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from pos.api.auth import Authenticator, Principal
from pos.errors import (
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_ERROR,
    not_found,
    validation_error,
)
from pos.service.services import Services
from pos.till.voucher_lookup import Till

SERVICES = web.AppKey("services", Services)
AUTH = web.AppKey("auth", Authenticator)
ADMIN_TOKEN = web.AppKey("admin_token", str)

# Set by the router once a route's guard has let the caller in (see `pos.api.routing`).
PRINCIPAL = web.RequestKey[Principal]("principal")

M = TypeVar("M", bound=BaseModel)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def auth(request: web.Request) -> Authenticator:
    return request.app[AUTH]


def principal(request: web.Request) -> Principal:
    """Who the route's guard let in; only for routes whose `auth` is not "none"."""
    return request[PRINCIPAL]


def calling_till(request: web.Request) -> Till:
    """The till a till-only route serves (its guard refused anyone else)."""
    caller = request[PRINCIPAL]
    if not isinstance(caller, Till):
        raise TypeError(f"a till route was let in with {caller!r}; check its auth=")
    return caller


def path_id(request: web.Request, name: str, what: str) -> str:
    """A uuid from the path; anything else is simply not found."""
    value = request.match_info[name]
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise not_found(what) from None


async def body(request: web.Request, model: type[M]) -> M:
    """The JSON body validated against `model` (problems on any mismatch)."""
    if request.content_type not in ("application/json", "application/problem+json", ""):
        raise UNSUPPORTED_MEDIA_TYPE("Send the request as JSON.")
    raw = await request.read()
    if not raw:
        raise VALIDATION_ERROR("The request has no body.")
    parsed = model.model_validate_json(raw)
    if _has_nul(parsed.model_dump()):
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
        raise validation_error("The request contains a NUL character, which no field allows.")
    return parsed


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def json_response(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)
