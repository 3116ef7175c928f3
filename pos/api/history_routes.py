"""A voucher's history for the program officer: `GET /v1/vouchers/{id}/redemptions`, each
redemption with its shop, till, time, lines, amounts and status, newest first."""

from __future__ import annotations

from aiohttp import web

from pos.api.routing import Routes, whole_number
from pos.api.state import json_response, path_id, services
from pos.errors import not_found, validation_error
from pos.messages import words
from pos.storage import voucher_history

routes = Routes("history")

MAX_LIMIT = 500


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "100")
    # Bounded before int(): thousands of digits are refused by int() with a ValueError.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 3 \
            or not 1 <= int(raw) <= MAX_LIMIT:
        raise validation_error(words("limit 须是 1 到 {most} 之间的整数。",
                                     "limit must be a whole number from 1 to {most}.",
                                     most=MAX_LIMIT))
    return int(raw)


@routes.get("/v1/vouchers/{id}/redemptions",
            summary="What a voucher bought, where and when: its redemptions, newest first "
                    "(?limit=, at most 500)",
            auth="admin", query=[whole_number("limit", "How many, newest first (default 100).",
                                              1, MAX_LIMIT)])
async def voucher_redemptions(request: web.Request) -> web.Response:
    pool = services(request).pool
    voucher_id = path_id(request, "id", "voucher")
    limit = _limit(request)
    if not await voucher_history.voucher_exists(pool, voucher_id):
        raise not_found("voucher")
    records = await voucher_history.redemptions_of(pool, voucher_id, limit=limit)
    return json_response({"voucher_id": voucher_id,
                          "redemptions": [r.as_dict() for r in records]})
