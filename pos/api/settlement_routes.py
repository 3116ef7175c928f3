# ruff: noqa: RUF001
"""Admin calls for settlement: runs, batches and their statuses, exports, payee accounts."""

from __future__ import annotations

import logging

from aiohttp import web

from pos.accounts import four_eyes
from pos.api.requests import (
    ApproveIn,
    FailedIn,
    PaidIn,
    PayeeIn,
    PayoutIn,
    SettlementIn,
)
from pos.api.routing import Routes, an_id, one_of
from pos.api.state import (
    acting_name,
    body,
    calling_staff,
    json_response,
    path_id,
    query_id,
    services,
)
from pos.errors import validation_error
from pos.messages import LANGUAGES, language, words
from pos.plugin.exporter_types import Payee
from pos.settlement import batch_status, exporting, runs
from pos.storage import offline_sales
from pos.storage import settlements as store

log = logging.getLogger(__name__)

routes = Routes("settlement")

STATUSES = ("draft", "approved", "paid", "failed")


@routes.post("/v1/settlements", summary="Settle what is due up to a period end: one batch "
             "per merchant and currency", auth="finance", body=SettlementIn, status=201,
             action=words("结算截至期末的应付款", "Settle what is due up to a period end"))
async def create_settlement(request: web.Request) -> web.Response:
    payload = await body(request, SettlementIn)
    run = await runs.settle(services(request), period_end=payload.period_end,
                            merchant_id=payload.merchant_id, program_id=payload.program_id,
                            actor=acting_name(request, payload.by))
    return json_response(run, status=201)


@routes.get("/v1/settlements", summary="Settlement batches, newest first", auth="staff",
            query=[one_of("status", "Only batches in this state.", STATUSES),
                   an_id("run_id", "Only this settlement run's."),
                   an_id("merchant_id", "Only this merchant's.")])
async def list_settlements(request: web.Request) -> web.Response:
    query = request.query
    status = query.get("status")
    if status is not None and status not in STATUSES:
        raise validation_error(words("status 须是以下之一：{listed}。",
                                     "status must be one of {listed}.",
                                     listed=", ".join(STATUSES)))
    batches = await store.list_batches(await services(request).reader(), status=status,
                                       run_id=query_id(request, "run_id"),
                                       merchant_id=query_id(request, "merchant_id"))
    return json_response({"batches": batches})


@routes.get("/v1/settlements/{id}", summary="A settlement batch, its history and exports",
            auth="staff")
async def get_settlement(request: web.Request) -> web.Response:
    batch_id = path_id(request, "id", "settlement batch")
    pool = await services(request).reader()
    batch = await store.get_batch(pool, batch_id)
    # Offline sales are paid in full; what the program's offline-risk account carried.
    return json_response({**batch, "offline": await offline_sales.in_batch(pool, batch_id)})


@routes.post("/v1/settlements/{id}/approve", summary="Approve a batch for payment",
             auth="finance", body=ApproveIn,
             action=words("批准结算批次付款", "Approve a batch for payment"))
async def approve(request: web.Request) -> web.Response:
    batch_id = path_id(request, "id", "settlement batch")
    payload = await body(request, ApproveIn)
    await four_eyes.check_approver(services(request), batch_id, calling_staff(request))
    return json_response(await batch_status.move(services(request), batch_id, "approve",
                                              acting_name(request, payload.by)))


@routes.post("/v1/settlements/{id}/paid", summary="Record that an approved batch was paid",
             auth="finance", body=PaidIn,
             action=words("登记结算批次已付款", "Record that a batch was paid"))
async def mark_paid(request: web.Request) -> web.Response:
    batch_id = path_id(request, "id", "settlement batch")
    payload = await body(request, PaidIn)
    return json_response(await batch_status.move(services(request), batch_id, "paid",
                                              acting_name(request, payload.by),
                                              reference=payload.reference))


@routes.post("/v1/settlements/{id}/failed", summary="Record that paying a batch failed",
             auth="finance", body=FailedIn,
             action=words("登记结算批次付款失败", "Record that paying a batch failed"))
async def mark_failed(request: web.Request) -> web.Response:
    batch_id = path_id(request, "id", "settlement batch")
    payload = await body(request, FailedIn)
    return json_response(await batch_status.move(services(request), batch_id, "failed",
                                              acting_name(request, payload.by),
                                              note=payload.reason))


@routes.post("/v1/settlements/{id}/payout", summary="Pay an approved batch through a "
             "payment channel", auth="finance", body=PayoutIn,
             action=words("通过支付渠道支付结算批次", "Pay a batch through a payment channel"))
async def payout(request: web.Request) -> web.Response:
    batch_id = path_id(request, "id", "settlement batch")
    payload = await body(request, PayoutIn)
    return json_response(await batch_status.payout(services(request), batch_id, payload.channel,
                                                acting_name(request, payload.by)))


@routes.get("/v1/settlement-formats", summary="Installed settlement export formats",
            auth="staff")
async def formats(request: web.Request) -> web.Response:
    return json_response({"formats": exporting.describe_exporters(services(request))})


@routes.get("/v1/settlements/{id}/export/{format}", summary="Download a batch in a format; "
            "streamed, its SHA-256 recorded on the batch; a header row a person reads is in "
            "?lang= or Accept-Language (zh-CN, the default, or en)", auth="finance",
            content_type="application/octet-stream", query=[
                one_of("lang", "The language of the words a person reads in the file "
                               "(before Accept-Language).", LANGUAGES),
                one_of("check", "1 or true: only say whether the file can be made (204, or "
                                "the refusal); nothing is written or recorded.",
                       ("1", "true"))],
            action=words("下载结算批次的付款文件", "Download a batch's payment file"))
async def export(request: web.Request) -> web.StreamResponse:
    batch_id = path_id(request, "id", "settlement batch")
    job = await exporting.prepare(services(request), batch_id, request.match_info["format"],
                                  _reader_language(request))
    if request.query.get("check") in ("1", "true"):
        # The console asks first, so a refusal is shown on the page rather than as a
        # download the browser drops without a word.
        return web.Response(status=204)
    return await _stream(request, job)


def _reader_language(request: web.Request) -> str:
    """The language of the words a person reads in the file: `lang` in the query, else
    the `Accept-Language` header, else zh-CN."""
    asked = request.query.get("lang")
    if asked is None:
        return language(request.headers.get("Accept-Language"))
    if asked not in LANGUAGES:
        raise validation_error(words("lang 须是以下之一：{listed}。",
                                     "lang must be one of {listed}.",
                                     listed=", ".join(LANGUAGES)))
    return asked


@routes.get("/v1/settlement-runs/{id}/export/{format}", summary="Download a whole run as one "
            "file (pain001: one payment per merchant); its SHA-256 recorded on each batch",
            auth="finance", content_type="application/octet-stream",
            action=words("下载整次结算的付款文件", "Download a run's payment file"))
async def export_run(request: web.Request) -> web.StreamResponse:
    run_id = path_id(request, "id", "settlement run")
    job = await exporting.prepare_run(services(request), run_id, request.match_info["format"])
    return await _stream(request, job)


async def _stream(request: web.Request, job: exporting.Export) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": job.exporter.media_type,
        "Content-Disposition": f'attachment; filename="{job.filename}"',
        "Cache-Control": "no-store",
    })
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        async for chunk in job.chunks():
            await response.write(chunk)
    except Exception:
        # The headers are gone, so no problem response is possible; cut the connection so
        # the client sees a broken transfer, never a short file that looks complete. The
        # digest is only recorded for a whole file.
        log.exception("export %s as %s stopped mid-stream", job.filename, job.format)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


@routes.add("PUT", "/v1/merchants/{id}/payout-account", summary="Set the account a merchant "
            "is paid to", auth="finance", body=PayeeIn,
            action=words("设置商户的收款账户", "Set a merchant's payout account"))
async def set_payee(request: web.Request) -> web.Response:
    merchant_id = path_id(request, "id", "merchant")
    payload = await body(request, PayeeIn)
    payee = Payee(payload.account_name, payload.account_id, payload.agent_bic,
                  payload.agent_id)
    await store.set_payee(services(request).pool, merchant_id, payee)
    return json_response({"merchant_id": merchant_id, "account_name": payee.account_name,
                          "account_id": payee.account_id, "agent_bic": payee.agent_bic,
                          "agent_id": payee.agent_id})

