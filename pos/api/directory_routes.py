"""The lists and small edits the console needs, as API calls too: programs, merchants with
their tills, finding a voucher, editing a program, disabling a till."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from aiohttp import web

from pos import codes
from pos.api.routing import Query, Routes
from pos.api.state import calling_staff, json_response, path_id, services
from pos.errors import not_found, validation_error
from pos.messages import words
from pos.roles import ADMITS
from pos.storage import console_lists

# What the voucher search reads (here and on the console's voucher page).
SEARCH = Query("q", "A voucher id, a beneficiary reference or a manual code (at most 100 "
                    "characters).", {"type": "string", "maxLength": 100})

routes = Routes("directory")


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, (date, datetime)) else v for k, v in row.items()}


@routes.get("/v1/programs", summary="Every program with its voucher and partner counts",
            auth="staff")
async def list_programs(request: web.Request) -> web.Response:
    found = await console_lists.programs(services(request).pool)
    return json_response({"programs": [_jsonable(p) for p in found]})


# A merchant's bank account, which only the roles that pay merchants see.
_PAYEE = ("payee_name", "payee_account", "payee_bic")


@routes.get("/v1/merchants", summary="Every merchant with its tills (and, for finance, "
            "its payout account)", auth="staff")
async def list_merchants(request: web.Request) -> web.Response:
    found = await console_lists.merchants(services(request).pool)
    if calling_staff(request).role not in ADMITS["finance"]:
        found = [{k: v for k, v in m.items() if k not in _PAYEE} for m in found]
    return json_response({"merchants": [_jsonable(m) for m in found]})


@routes.post("/v1/tills/{id}/disable", summary="Disable a till: its credential and pairing "
             "code stop working", auth="officer", action=words("停用收银台", "Disable a till"))
async def disable_till(request: web.Request) -> web.Response:
    till_id = path_id(request, "id", "till")
    if not await console_lists.disable_till(services(request).pool, till_id):
        raise not_found("till")
    return json_response({"id": till_id, "disabled": True})


@routes.get("/v1/vouchers", summary="Find vouchers by id, beneficiary reference or manual "
            "code (?q=)", auth="staff", query=[SEARCH])
async def find_vouchers(request: web.Request) -> web.Response:
    return json_response({"vouchers": [
        _jsonable(v) for v in await find(request, request.query.get("q", ""))]})


async def find(request: web.Request, query: str) -> list[dict[str, Any]]:
    """What `q` names: a voucher id, a manual code (with a valid check symbol), or a
    beneficiary reference."""
    query = query.strip()
    if not query:
        return []
    if len(query) > 100:
        raise validation_error(words("搜索内容最多 100 个字符。",
                                     "Search for at most 100 characters."))
    try:
        voucher_id: str | None = str(uuid.UUID(query))
    except ValueError:
        voucher_id = None
    symbols = codes.normalise(query)
    return await console_lists.find_vouchers(
        services(request).pool, voucher_id=voucher_id, reference=query,
        code_hash=codes.code_hash(symbols) if symbols else None)
