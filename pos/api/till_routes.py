"""Till calls: quote a basket, redeem, void, read a redemption. Reasons and refusals come
in the request's `Accept-Language` (zh-CN by default, or en)."""

from __future__ import annotations

from aiohttp import web

from pos.api.requests import QuoteIn, RedemptionIn
from pos.api.routing import Routes
from pos.api.state import body, calling_till, json_response, path_id, principal, services
from pos.messages import language
from pos.till import engine, multi_voucher, sale_plan
from pos.till.voucher_lookup import Till

routes = Routes("till")


@routes.post("/v1/quotes",
             summary="What the voucher (or each of several) would pay for in this basket",
             auth="till", body=QuoteIn)
async def quote(request: web.Request) -> web.Response:
    till = calling_till(request)
    payload = await body(request, QuoteIn)
    lang = language(request.headers.get("Accept-Language"))
    if payload.vouchers is not None:
        return json_response(await sale_plan.quote(services(request), till, payload, lang))
    return json_response(await engine.quote(services(request), till, payload, lang))


@routes.post("/v1/redemptions",
             summary="Redeem the voucher (or several together) for this basket, exactly once",
             auth="till", body=RedemptionIn, status=201, idempotent=True)
async def redeem(request: web.Request) -> web.Response:
    till = calling_till(request)
    key = engine.check_idempotency_key(request.headers.get("Idempotency-Key"))
    payload = await body(request, RedemptionIn)
    redeem_with = multi_voucher.redeem if payload.vouchers is not None else engine.redeem
    status, answer = await redeem_with(services(request), till, payload, key, request.path,
                                       language(request.headers.get("Accept-Language")))
    return json_response(answer, status=status)


@routes.post("/v1/redemptions/{id}/void",
             summary="Cancel a redemption (every part of a sale) and restore its value",
             auth="till", idempotent=True)
async def void(request: web.Request) -> web.Response:
    till = calling_till(request)
    key = engine.check_idempotency_key(request.headers.get("Idempotency-Key"))
    redemption_id = path_id(request, "id", "redemption")
    status, answer = await multi_voucher.void(services(request), till, redemption_id, key,
                                       f"/v1/redemptions/{redemption_id}/void")
    return json_response(answer, status=status)


@routes.get("/v1/redemptions/{id}", summary="Read a redemption (a till sees its merchant's)",
            auth="till_or_admin")
async def get_redemption(request: web.Request) -> web.Response:
    redemption_id = path_id(request, "id", "redemption")
    caller = principal(request)
    merchant_id = caller.merchant_id if isinstance(caller, Till) else None  # admin: any
    return json_response(await multi_voucher.read(services(request), redemption_id,
                                                  merchant_id))
