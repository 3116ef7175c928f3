# ruff: noqa: RUF001
"""Typed keys of the app's and the request's state, and small helpers every route module
uses."""

from __future__ import annotations

import uuid
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from pos.accounts.staff import Staff
from pos.api.auth import Authenticator, Principal
from pos.errors import (
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_ERROR,
    not_found,
    validation_error,
)
from pos.messages import words
from pos.service.services import Services
from pos.storage.till_lookup import StoredAnswer
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


def calling_staff(request: web.Request) -> Staff:
    """The staff member a staff route serves (its guard refused anyone else)."""
    caller = request[PRINCIPAL]
    if not isinstance(caller, Staff):
        raise TypeError(f"a staff route was let in with {caller!r}; check its auth=")
    return caller


def acting_name(request: web.Request, given: str) -> str:
    """The name recorded on a change: a named account's login (what it says in the body
    cannot make it someone else); the bootstrap token's automation names itself."""
    caller = request[PRINCIPAL]
    if isinstance(caller, Staff) and caller.is_person:
        return caller.login
    return given


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


def query_id(request: web.Request, name: str) -> str | None:
    """A uuid from the query string, None when absent; anything else is refused (422)."""
    value = request.query.get(name)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise validation_error(words("{name} 不是有效的编号。", "{name} is not a valid id.",
                                     name=name)) from None


async def body(request: web.Request, model: type[M]) -> M:
    """The JSON body validated against `model` (problems on any mismatch)."""
    if request.content_type not in ("application/json", "application/problem+json", ""):
        raise UNSUPPORTED_MEDIA_TYPE("Send the request as JSON.")
    raw = await request.read()
    if not raw:
        raise VALIDATION_ERROR(words("请求没有内容。", "The request has no body."))
    parsed = model.model_validate_json(raw)
    # JSON can carry NUL only escaped (a raw control character is refused by the parser),
    # so a body without that escape needs no walk of the parsed model.
    if b"\\u0000" in raw and _has_nul(parsed.model_dump()):
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
        raise validation_error(words("请求中含有 NUL 字符，任何字段都不允许。",
                                     "The request contains a NUL character, which no field "
                                     "allows."))
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
    if isinstance(data, StoredAnswer):  # already JSON, as the database stored it
        return web.Response(text=data.text, status=status, content_type="application/json")
    return web.json_response(data, status=status)
