"""Offline tills: the signed offline kit, the tablet's own key, forwarded offline sales,
the offline limits a program publishes, and the offline figures (docs/offline.md)."""

from __future__ import annotations

from aiohttp import web

from pos.api.requests import DeviceKeyIn, OfflineLimitsIn, OfflineSaleIn
from pos.api.routing import Routes, an_id
from pos.api.state import body, calling_till, json_response, path_id, query_id, services
from pos.messages import words
from pos.storage import offline_kits, offline_sales
from pos.till import engine, forwarded_sales, kit_builder, offline_basket

routes = Routes("offline")


@routes.get("/v1/till/offline-kit",
            summary="A fresh signed offline kit for the calling till", auth="till")
async def offline_kit(request: web.Request) -> web.Response:
    till = calling_till(request)
    response = json_response(await kit_builder.build_kit(services(request), till))
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/v1/till/device-key", summary="Register the tablet's own public key "
             "(it signs offline sales)", auth="till", body=DeviceKeyIn)
async def device_key(request: web.Request) -> web.Response:
    till = calling_till(request)
    payload = await body(request, DeviceKeyIn)
    await offline_kits.set_device_key(services(request).pool, till.till_id, payload.public_key)
    return json_response({"till_id": till.till_id, "device_key": payload.public_key})


@routes.post("/v1/offline-sales", summary="Forward a sale the till made offline; booked "
             "exactly once", auth="till", body=OfflineSaleIn, status=201, idempotent=True)
async def forward_sale(request: web.Request) -> web.Response:
    till = calling_till(request)
    key = engine.check_idempotency_key(request.headers.get("Idempotency-Key"))
    payload = await body(request, OfflineSaleIn)
    status, answer = await forwarded_sales.forward(services(request), till, payload, key,
                                                   request.path)
    return json_response(answer, status=status)


@routes.add("PUT", "/v1/programs/{id}/offline-limits",
            summary="Publish a program's offline limits (for one merchant, or all)",
            auth="officer", body=OfflineLimitsIn,
            action=words("发布项目的离线限额", "Publish a program's offline limits"))
async def set_offline_limits(request: web.Request) -> web.Response:
    program_id = path_id(request, "id", "program")
    payload = await body(request, OfflineLimitsIn)
    merchant_id = None if payload.merchant_id is None else str(payload.merchant_id)
    limits = offline_kits.OfflineLimits(payload.enabled, payload.max_per_sale,
                                        payload.max_till_total, payload.max_offline_seconds)
    pool = services(request).pool
    await offline_kits.set_limits(pool, program_id, merchant_id, limits)
    tills = await offline_kits.tills_accepting(pool, program_id)
    return json_response({
        "program_id": program_id, "merchant_id": merchant_id, **payload.model_dump(
            mode="json", exclude={"merchant_id"}),
        # What one voucher can be overspent offline at most, with these limits at every
        # till that accepts the program (docs/offline.md).
        "worst_case_shortfall_per_voucher": offline_basket.worst_case_shortfall(
            max_per_sale=limits.max_per_sale, max_till_total=limits.max_till_total,
            max_offline_seconds=limits.max_offline_seconds, tills=tills),
        "tills": tills,
    })


@routes.get("/v1/reports/offline", summary="Offline sales and shortfalls per program and "
            "merchant", auth="staff",
            query=[an_id("program_id", "Only this program's.")])
async def offline_report(request: web.Request) -> web.Response:
    program = query_id(request, "program_id")
    return json_response({"rows": await offline_sales.summary(services(request).pool, program)})
