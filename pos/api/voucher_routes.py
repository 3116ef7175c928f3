# ruff: noqa: RUF001
"""Vouchers as people hold them: batch issuance, QR codes, cards and PDF sheets, reissue,
top-ups, and the holder's own page."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import tempfile
from typing import IO, BinaryIO, cast

from aiohttp import web

from pos.accounts import four_eyes
from pos.api import history_routes, holder_routes
from pos.api.requests import TopUpIn
from pos.api.routing import Query, Routes, one_of, whole_number
from pos.api.state import body, calling_staff, json_response, path_id, services
from pos.errors import (
    FONT_UNAVAILABLE,
    IDEMPOTENCY_KEY_REQUIRED,
    PAYLOAD_TOO_LARGE,
    REISSUE_REQUIRED,
    UNSUPPORTED_MEDIA_TYPE,
    VoucherProblem,
    not_found,
    validation_error,
)
from pos.messages import msg, words
from pos.printing import cards, pdf_sheets, qr
from pos.printing.fonts import FontFace, FontNotFound, find_cjk_font
from pos.service.services import Services
from pos.storage import issuances as issuance_store
from pos.storage import setup as setup_store
from pos.storage.issuances import HeldVoucher
from pos.storage.setup import Program
from pos.vouchers import beneficiary_list, issuance, lifecycle
from pos.vouchers.carried import (
    EXPORT_COLUMNS,
    batch_faces,
    carried,
    export_batch,
    export_row,
    nbf_of,
)

routes = Routes("vouchers")

_FORMATS: dict[str, beneficiary_list.Format] = {
    "text/csv": "csv", "application/csv": "csv", "text/plain": "csv",
    "application/json": "json",
}
# Cards per PDF request: 200 A4 pages, about a minute of drawing at ~30 cards/s (mostly
# QR encoding); larger batches are printed in ranges, or whole by `pos cards`.
MAX_PDF_CARDS = 2_000


# ------------------------------------------------------------------------------------------
# helpers


async def _font(svc: Services) -> FontFace:
    try:
        return await asyncio.to_thread(find_cjk_font, svc.config.vouchers.font_path)
    except FontNotFound as exc:
        raise FONT_UNAVAILABLE(f"Cards cannot be drawn: {exc}."
                      ) from None


async def _spool(request: web.Request, limit: int) -> IO[bytes]:
    """The request body in a temporary file (in memory while small), read in pieces so a
    large list is never one string."""
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)
    total = 0
    async for piece in request.content.iter_chunked(1 << 16):
        total += len(piece)
        if total > limit:
            spool.close()
            raise PAYLOAD_TOO_LARGE(
                f"The list is larger than {limit} bytes; split it into batches.")
        spool.write(piece)
    return cast(IO[bytes], spool)


def _rewound(spool: IO[bytes]) -> contextlib.AbstractContextManager[BinaryIO]:
    spool.seek(0)
    return contextlib.nullcontext(cast(BinaryIO, spool))


def _issuance_links(issuance_id: str) -> dict[str, str]:
    base = f"/v1/issuances/{issuance_id}"
    return {"self": base, "vouchers_csv": f"{base}/vouchers.csv",
            "cards_pdf": f"{base}/cards.pdf"}


async def _usable(svc: Services, voucher_id: str) -> tuple[HeldVoucher, Program]:
    """A voucher whose QR is worth printing: live, its key not withdrawn."""
    voucher = await issuance_store.held_voucher(svc.pool, voucher_id)
    if voucher is None:
        raise not_found("voucher")
    if voucher.status in ("revoked", "expired"):
        raise VoucherProblem(f"voucher_{voucher.status}",
                             f"This voucher is {voucher.status}; there is nothing to print.")
    if await issuance_store.key_status(svc.pool, voucher.token_kid) == "revoked":
        raise REISSUE_REQUIRED(
            "This voucher's signing key was withdrawn. Reissue it to print a new code.")
    program = await setup_store.get_program(svc.pool, voucher.program_id)
    return voucher, program


MODULE = whole_number("module", "Pixels per module of the QR code.", qr.MIN_MODULE_PX,
                      qr.MAX_MODULE_PX)


def _module_px(request: web.Request) -> int:
    raw = request.query.get("module", str(qr.DEFAULT_MODULE_PX))
    if (not (raw.isascii() and raw.isdigit()) or len(raw) > 4  # bounded before int()
            or not qr.MIN_MODULE_PX <= int(raw) <= qr.MAX_MODULE_PX):
        raise validation_error(words(
            "module 须是 {least} 到 {most} 之间的整数（像素）。",
            "module must be a whole number of pixels from {least} to {most}.",
            least=qr.MIN_MODULE_PX, most=qr.MAX_MODULE_PX))
    return int(raw)


_private = holder_routes.private


# ------------------------------------------------------------------------------------------
# batch issuance


@routes.post("/v1/programs/{id}/issuances",
             summary="Issue vouchers to a beneficiary list (CSV or JSON), all or none, once "
                     "(?check=1: only check it; ?batch_id=: name the batch)",
             auth="officer", status=201, query=[
                 one_of("check", "1 or true: only check the list; nothing is issued.",
                        ("1", "true")),
                 Query("batch_id", "Name the batch (a re-run under it issues nothing "
                                   "twice).")],
             action=words("按受助人名单发券", "Issue vouchers to a beneficiary list"))
async def create_issuance(request: web.Request) -> web.Response:
    svc = services(request)
    program_id = path_id(request, "id", "program")
    fmt = _FORMATS.get(request.content_type)
    if fmt is None:
        raise UNSUPPORTED_MEDIA_TYPE(
            "Send the list as text/csv (columns ref, holder_ref, note) or application/json.")
    spool = await _spool(request, svc.config.vouchers.max_upload_bytes)
    try:
        result = await issuance.issue_batch(
            svc, program_id, lambda: _rewound(spool), fmt, source="api",
            batch_id=request.query.get("batch_id"),
            check_only=request.query.get("check") in ("1", "true"))
    finally:
        spool.close()
    if result.checked_only:
        return json_response(result.as_dict())
    answer = result.as_dict() | {"links": _issuance_links(result.issuance_id)}
    return json_response(answer, status=201 if result.created else 200)


@routes.get("/v1/programs/{id}/issuances", summary="A program's issuance batches",
            auth="staff")
async def list_issuances(request: web.Request) -> web.Response:
    svc = services(request)
    program_id = path_id(request, "id", "program")
    await setup_store.get_program(svc.pool, program_id)  # 404 for an unknown program
    found = await issuance_store.list_issuances(svc.pool, program_id)
    return json_response({"issuances": [
        item | {"links": _issuance_links(item["id"])} for item in found]})


@routes.get("/v1/issuances/{id}", summary="Read an issuance batch", auth="staff")
async def get_issuance(request: web.Request) -> web.Response:
    issuance_id = path_id(request, "id", "issuance")
    found = await issuance_store.get_issuance(services(request).pool, issuance_id)
    if found is None:
        raise not_found("issuance")
    found["content_hash"] = bytes(found["content_hash"]).hex()
    found["created_at"] = found["created_at"].isoformat()
    return json_response(found | {"links": _issuance_links(issuance_id)})


@routes.get("/v1/issuances/{id}/vouchers.csv",
            summary="The batch's vouchers with their current codes, tokens and holder links",
            auth="officer", content_type="text/csv")
async def issuance_csv(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    issuance_id = path_id(request, "id", "issuance")
    chunks = export_batch(svc, issuance_id)
    first = await anext(chunks, None)  # not found is refused before the response starts
    response = _private(web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="vouchers-{issuance_id}.csv"'}))
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel reads UTF-8 only with a byte-order mark
    writer.writerow(EXPORT_COLUMNS)
    while first is not None:
        for item in first:
            writer.writerow(export_row(svc, item))
        await response.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
        first = await anext(chunks, None)
    await response.write_eof()
    return response


@routes.get("/v1/issuances/{id}/cards.pdf",
            summary="Printable A4 sheets of the batch's cards with cut marks",
            auth="officer", content_type="application/pdf", query=[
                whole_number("from_line", "The first line of the batch to print (default 1).",
                             1, 10_000_000),
                whole_number("count", "How many cards from there (default: the rest).",
                             1, 10_000_000)])
async def issuance_pdf(request: web.Request) -> web.Response:
    svc = services(request)
    issuance_id = path_id(request, "id", "issuance")
    found = await issuance_store.get_issuance(svc.pool, issuance_id)
    if found is None:
        raise not_found("issuance")
    first, count = _range(request, found["voucher_count"])
    font = await _font(svc)
    program, faces = await batch_faces(svc, issuance_id, first=first, count=count)
    out = io.BytesIO()
    await asyncio.to_thread(pdf_sheets.render_sheets, faces, font, out,
                            title=program.name)
    response = web.Response(body=out.getvalue(), content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="cards-{issuance_id}.pdf"'})
    _private(response)
    return response


def _range(request: web.Request, total: int) -> tuple[int, int]:
    """Which cards to print: `count` of them (default all), from list line `from_line`."""
    first_text = request.query.get("from_line", "1")
    count_text = request.query.get("count", str(total))
    if not all(t.isascii() and t.isdigit() and len(t) <= 9 for t in (first_text, count_text)):
        # Bounded before int(): Python refuses over 4,300 digits with a ValueError anyway,
        # but only after the work; nine digits is more than any batch has lines.
        raise validation_error(words("from_line 和 count 须是整数。",
                                     "from_line and count must be whole numbers."))
    first, count = int(first_text), int(count_text)
    if first < 1 or not 1 <= count <= MAX_PDF_CARDS:
        raise validation_error(words(
            "每次打印 1 到 {most} 张卡片（本批共 {total} 张）：用 from_line 和 count 选择，"
            "或用 `pos cards` 打印整批。",
            "Print 1 to {most} cards at a time (this batch has {total}): choose them with "
            "from_line and count, or use `pos cards` for the whole batch.",
            most=MAX_PDF_CARDS, total=total))
    return first, count


# ------------------------------------------------------------------------------------------
# QR and card of one voucher


@routes.get("/v1/vouchers/{id}/qr.png", summary="The voucher's QR code as PNG (?module=px)",
            auth="officer", content_type="image/png", query=[MODULE])
async def voucher_qr_png(request: web.Request) -> web.Response:
    svc = services(request)
    module_px = _module_px(request)
    voucher, program = await _usable(svc, path_id(request, "id", "voucher"))
    item = carried(svc, voucher, nbf_of(program))
    data = await asyncio.to_thread(qr.png, item.token, module_px)
    response = web.Response(body=data, content_type="image/png")
    _private(response)
    return response


@routes.get("/v1/vouchers/{id}/qr.svg", summary="The voucher's QR code as SVG",
            auth="officer", content_type="image/svg+xml", query=[MODULE])
async def voucher_qr_svg(request: web.Request) -> web.Response:
    svc = services(request)
    module_px = _module_px(request)
    voucher, program = await _usable(svc, path_id(request, "id", "voucher"))
    item = carried(svc, voucher, nbf_of(program))
    response = web.Response(text=qr.svg(item.token, module_px), content_type="image/svg+xml")
    _private(response)
    return response


@routes.get("/v1/vouchers/{id}/card.png",
            summary="The voucher's card (85.6 x 54 mm at 300 dpi), Chinese and English",
            auth="officer", content_type="image/png")
async def voucher_card(request: web.Request) -> web.Response:
    svc = services(request)
    voucher, program = await _usable(svc, path_id(request, "id", "voucher"))
    font = await _font(svc)
    item = carried(svc, voucher, nbf_of(program))
    face = cards.card_face(program, token=item.token, code=item.code,
                           timezone=program.time_zone)
    data = await asyncio.to_thread(cards.render_png, face, font)
    response = web.Response(body=data, content_type="image/png")
    _private(response)
    return response


# ------------------------------------------------------------------------------------------
# lifecycle


@routes.post("/v1/vouchers/{id}/reissue",
             summary="Replace a lost voucher's token and code; the old ones stop at once",
             auth="officer", action=words("补发遗失的券", "Reissue a lost voucher"))
async def reissue(request: web.Request) -> web.Response:
    svc = services(request)
    voucher_id = path_id(request, "id", "voucher")
    held = await four_eyes.hold_reissue(svc, calling_staff(request), voucher_id)
    if held is not None:
        return json_response(held.answer(), status=202)
    answer = await lifecycle.reissue(svc, voucher_id)
    response = json_response(answer)
    _private(response)
    return response


@routes.post("/v1/vouchers/{id}/credits",
             summary="Grant a top-up credit (recorded in the ledger), once per key",
             auth="officer", body=TopUpIn, status=201, idempotent=True,
             action=words("为券充值", "Top up a voucher"))
async def top_up(request: web.Request) -> web.Response:
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise IDEMPOTENCY_KEY_REQUIRED(
            "A top-up needs an Idempotency-Key header so a retry never grants twice.")
    if len(key) > 200 or not key.isprintable():
        raise validation_error(msg("validation_error.idempotency_key"))
    voucher_id = path_id(request, "id", "voucher")
    payload = await body(request, TopUpIn)
    held = await four_eyes.hold_top_up(services(request), calling_staff(request), voucher_id,
                                       payload, key)
    if held is not None:
        return json_response(held.answer(), status=202)
    outcome = await lifecycle.top_up(services(request), voucher_id, payload, key)
    return json_response(outcome.answer, status=201 if outcome.created else 200)


# The holder's page and a voucher's history live in their own modules; app.py installs
# one table for all three.
routes.specs.extend(holder_routes.routes.specs)
routes.specs.extend(history_routes.routes.specs)
