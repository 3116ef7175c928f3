"""Till calls: quote a basket, redeem, void, read a redemption. Reasons and refusals come
in the request's `Accept-Language` (zh-CN by default, or en)."""

from __future__ import annotations

from aiohttp import web

from pos.api.requests import QuoteIn, RedemptionIn
from pos.api.routing import Routes
from pos.api.state import body, calling_till, json_response, path_id, principal, services
from pos.messages import language
from pos.storage import redemptions as store
from pos.till import engine
from pos.till.voucher_lookup import Till

routes = Routes("till")


@routes.post("/v1/quotes", summary="What the voucher would pay for in this basket",
             auth="till", body=QuoteIn)
async def quote(request: web.Request) -> web.Response:
    till = calling_till(request)
    payload = await body(request, QuoteIn)
    return json_response(await engine.quote(services(request), till, payload,
                                            language(request.headers.get("Accept-Language"))))


@routes.post("/v1/redemptions", summary="Redeem the voucher for this basket, exactly once",
             auth="till", body=RedemptionIn, status=201, idempotent=True)
async def redeem(request: web.Request) -> web.Response:
    till = calling_till(request)
    key = engine.check_idempotency_key(request.headers.get("Idempotency-Key"))
    payload = await body(request, RedemptionIn)
    status, answer = await engine.redeem(services(request), till, payload, key, request.path,
                                         language(request.headers.get("Accept-Language")))
    return json_response(answer, status=status)


@routes.post("/v1/redemptions/{id}/void", summary="Cancel a redemption and restore its value",
             auth="till", idempotent=True)
async def void(request: web.Request) -> web.Response:
    till = calling_till(request)
    key = engine.check_idempotency_key(request.headers.get("Idempotency-Key"))
    redemption_id = path_id(request, "id", "redemption")
    status, answer = await engine.void(services(request), till, redemption_id, key,
                                       f"/v1/redemptions/{redemption_id}/void")
    return json_response(answer, status=status)


@routes.get("/v1/redemptions/{id}", summary="Read a redemption (a till sees its merchant's)",
            auth="till_or_admin")
async def get_redemption(request: web.Request) -> web.Response:
    redemption_id = path_id(request, "id", "redemption")
    caller = principal(request)
    merchant_id = caller.merchant_id if isinstance(caller, Till) else None  # admin: any
    return json_response(await store.get_redemption(services(request).pool, redemption_id,
                                                    merchant_id))
