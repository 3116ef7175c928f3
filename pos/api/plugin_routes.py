# ruff: noqa: RUF001
"""Calls that belong to built-in plugins: approved product lists (for the
`approved_products` rule) and payment providers' webhooks (for any channel that verifies
them)."""

from __future__ import annotations

import logging

from aiohttp import web

from pos.api.routing import Routes
from pos.api.state import json_response, path_id, services
from pos.errors import (
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    WEBHOOK_INVALID,
    WEBHOOK_REPLAYED,
    WEBHOOK_SIGNATURE_INVALID,
    WEBHOOK_STALE,
    not_found,
    validation_error,
)
from pos.messages import words
from pos.plugin.types import WebhookRejected, WebhookRequest
from pos.storage import approved_products as approved_store
from pos.storage import payment_journal as payment_store

log = logging.getLogger(__name__)

routes = Routes("plugins")

# Larger than the API's usual body limit: an approved product list has many thousand rows.
MAX_LIST_BYTES = 16 * 1024 * 1024
MAX_WEBHOOK_BYTES = 64 * 1024

# The refusals a channel may give a webhook; anything else it says is "not understood".
_WEBHOOK_REFUSALS = {entry.code: entry for entry in (
    WEBHOOK_SIGNATURE_INVALID, WEBHOOK_STALE, WEBHOOK_INVALID)}


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise PAYLOAD_TOO_LARGE("The request is too large.")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PAYLOAD_TOO_LARGE("The request is too large.")
        chunks.append(chunk)
    return b"".join(chunks)


@routes.add("PUT", "/v1/programs/{id}/approved-products",
            summary="Replace a program's approved product list (CSV: gtin,description)",
            auth="officer", status=201,
            action=words("更换项目的指定商品清单", "Replace a program's approved product list"))
async def put_approved_products(request: web.Request) -> web.Response:
    program_id = path_id(request, "id", "program")
    if request.content_type not in ("text/csv", "text/plain", "application/octet-stream"):
        raise UNSUPPORTED_MEDIA_TYPE("Send the list as CSV (text/csv).")
    raw = await _read_limited(request, MAX_LIST_BYTES)
    try:
        text = raw.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError:
        raise validation_error(words("清单不是 UTF-8 文本，未做任何更改。",
                                     "The list is not UTF-8 text. Nothing was changed.")
                               ) from None
    products = approved_store.parse_csv(text)
    saved = await approved_store.replace_list(services(request).pool, program_id, products)
    return json_response(saved, status=201)


@routes.get("/v1/programs/{id}/approved-products",
            summary="The current version of a program's approved product list", auth="staff")
async def get_approved_products(request: web.Request) -> web.Response:
    program_id = path_id(request, "id", "program")
    return json_response(await approved_store.current_list(services(request).pool, program_id))


@routes.post("/v1/channels/{name}/webhooks",
             summary="A payment provider's callback, verified by the channel", auth="none")
async def channel_webhook(request: web.Request) -> web.Response:
    svc = services(request)
    name = request.match_info["name"]
    if not svc.plugins.takes_webhooks(name):
        raise not_found("payment channel taking webhooks")
    body = await _read_limited(request, MAX_WEBHOOK_BYTES)
    try:
        # The facade turns a channel that fails, hangs or answers nonsense into a
        # PluginProblem naming its plugin; only the channel's own refusals come back here.
        event = await svc.plugins.verify_webhook(
            WebhookRequest(channel=name, headers=request.headers, body=body))
    except WebhookRejected as rejected:
        log.warning("webhook for %s refused: %s", name, rejected.code)
        raise _WEBHOOK_REFUSALS.get(rejected.code, WEBHOOK_INVALID)(rejected.detail) from None
    outcome = await payment_store.record_webhook(
        svc.pool, name, event.event_id, event.fingerprint, event.type, event.reference,
        dict(event.data))
    if outcome == "replayed":
        raise WEBHOOK_REPLAYED("This exact webhook was already delivered once.")
    return json_response({"event_id": event.event_id, "status": outcome})
