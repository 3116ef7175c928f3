"""The holder's page, `GET /v/{code}`: what the holder (or the volunteer carrying the
voucher) opens from the link printed with their code. Public, so it shows nothing about the
person, is never cached and is rate-limited per client address (in PostgreSQL, across processes)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from pos import codes
from pos.api.client_address import client_address
from pos.api.routing import Routes
from pos.api.state import services
from pos.errors import RATE_LIMITED, VOUCHER_REPLACED, not_found
from pos.money import format_major
from pos.printing import cards
from pos.printing.holder_page import HolderView, render, render_missing
from pos.storage import issuances as issuance_store
from pos.storage import setup as setup_store
from pos.storage import throttles
from pos.storage.issuances import HeldVoucher
from pos.storage.setup import Program
from pos.vouchers import issuance

routes = Routes("holder")


def private(response: web.StreamResponse) -> web.StreamResponse:
    """Tokens and codes are bearer credentials: never cached, never sent on as a referrer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _html(text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, content_type="text/html", status=status)
    private(response)
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
    return response


def _missing(request: web.Request, *, replaced: bool) -> web.Response:
    """A person's browser gets a page it can show; any other client the usual problem."""
    status = 410 if replaced else 404
    if "text/html" in request.headers.get("Accept", ""):
        return _html(render_missing(replaced), status=status)
    if replaced:
        raise VOUCHER_REPLACED("This voucher was replaced by a new one; "
                           "use the new voucher's code.")
    raise not_found("voucher")


@routes.get("/v/{code}", summary="The holder's page: QR, what is left, where, until when",
            auth="none", content_type="text/html")
async def holder(request: web.Request) -> web.Response:
    svc = services(request)
    address = client_address(request, svc.config.server.trusted_proxies)
    if not await throttles.take(svc.pool, f"holder:{address}",
                                svc.config.vouchers.holder_views_per_minute):
        raise RATE_LIMITED("Too many pages were opened. Wait a minute.")
    body_ = codes.normalise(request.match_info["code"][:40])
    if body_ is None:
        return _missing(request, replaced=False)
    digest = codes.code_hash(body_)
    voucher = await issuance_store.held_voucher_by_code(svc.pool, digest)
    if voucher is None:
        replaced = await issuance_store.code_was_replaced(svc.pool, digest)
        return _missing(request, replaced=replaced)
    program = await setup_store.get_program(svc.pool, voucher.program_id)
    partners = await issuance_store.partner_names(svc.pool, voucher.program_id)
    state = voucher.status
    now = datetime.now(UTC)
    if state == "active" and now >= program.valid_until:
        state = "expired"  # before `pos expire` has run: the till refuses it already
    elif state == "active" and now < program.valid_from:
        state = "not_yet_valid"
    elif state == "active" and await issuance_store.key_status(
            svc.pool, voucher.token_kid) == "revoked":
        state = "key_withdrawn"
    item = issuance.carried(svc, voucher, issuance.nbf_of(program))
    face = cards.card_face(program, token=item.token, code=item.code,
                           timezone=svc.config.redemption.timezone)
    left_zh, left_en = _left(voucher, program)
    view = HolderView(
        program_name=program.name, state=state, left_zh=left_zh, left_en=left_en,
        per_visit=_per_visit(program),
        valid_from=face.valid_from, valid_until=face.valid_until, partners=partners,
        code=item.code, token=item.token if state == "active" else None)
    return _html(render(view))


def _per_visit(program: Program) -> tuple[str, str] | None:
    cap, currency = program.per_visit_cap, program.currency
    if not cap:
        return None
    return (f"每次最多 {cards.money_text(cap, currency)}",
            f"at most {currency} {format_major(cap, currency)} a visit")


def _left(voucher: HeldVoucher, program: Program) -> tuple[str, str]:
    """What is left to spend now: uses for a program counted in uses, else money."""
    if voucher.uses_left is not None:
        return f"{voucher.uses_left} 次", f"{voucher.uses_left} uses left"
    currency, balance = program.currency, voucher.balance or 0
    return (cards.money_text(balance, currency),
            f"{currency} {format_major(balance, currency)} left")
