"""The holder's page, `GET /v/{code}`: what the holder (or the volunteer carrying the
voucher) opens from the link printed with their code. Public, so it shows nothing about the
person, is never cached and is rate-limited per client address (in PostgreSQL, across processes)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from pos import codes
from pos.api.client_address import client_address
from pos.api.routing import Routes
from pos.api.state import services
from pos.errors import RATE_LIMITED, VOUCHER_REPLACED, not_found
from pos.money import format_major
from pos.plugin.types import ProgramView
from pos.printing import cards
from pos.printing.holder_page import HolderView, render, render_missing
from pos.service.services import Services
from pos.storage import issuances as issuance_store
from pos.storage import setup as setup_store
from pos.storage import throttles, voucher_history
from pos.storage.issuances import HeldVoucher
from pos.storage.setup import Program
from pos.storage.voucher_history import Usage
from pos.taxonomy import label
from pos.vouchers.carried import carried, nbf_of

LAST_USES = 5

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
    usage = await voucher_history.usage(svc.pool, voucher.id)
    if state == "active" and _spent(voucher):
        # Nothing to scan: say so rather than show a QR every till will refuse.
        state = "spent" if usage.next_credit_at is None else "spent_until_next"
    recent = await voucher_history.redemptions_of(svc.pool, voucher.id, limit=LAST_USES,
                                                  with_lines=False)
    zone = ZoneInfo(svc.config.redemption.timezone)
    item = carried(svc, voucher, nbf_of(program))
    face = cards.card_face(program, token=item.token, code=item.code,
                           timezone=svc.config.redemption.timezone)
    left_zh, left_en = _left(voucher, program)
    view = HolderView(
        program_name=program.name, state=state, left_zh=left_zh, left_en=left_en,
        per_visit=_per_visit(program),
        valid_from=face.valid_from, valid_until=face.valid_until, partners=partners,
        code=item.code, token=item.token if state == "active" else None,
        buys=tuple((said["zh-CN"], said["en"]) for said in _buys(svc, program)),
        never=_never(svc), used=_used(voucher, program, usage),
        allowance=_allowance(program, usage, zone),
        recent=tuple((r.created_at.astimezone(zone).date().isoformat(), r.merchant_name,
                      cards.money_text(r.covered, r.currency)
                      + ("（已撤销 voided）" if r.status == "voided" else ""))  # noqa: RUF001
                     for r in recent))
    return _html(render(view))


def _spent(voucher: HeldVoucher) -> bool:
    if voucher.uses_left is not None:
        return voucher.uses_left == 0
    return (voucher.balance or 0) == 0


def _buys(svc: Services, program: Program) -> list[dict[str, str]]:
    view = ProgramView(id=program.id, name=program.name, currency=program.currency,
                       restrictions=program.restrictions, rule_settings=program.rule_settings,
                       require_identity=program.require_identity)
    return [dict(said) for said in
            svc.plugins.what_it_buys(view, svc.config.redemption.never_pay)]


def _never(svc: Services) -> tuple[str, str] | None:
    never = svc.config.redemption.never_pay
    if not never:
        return None
    return ("不可购买：" + "、".join(label(c, "zh-CN") for c in never),  # noqa: RUF001
            "Never: " + ", ".join(label(c, "en") for c in never))


def _used(voucher: HeldVoucher, program: Program, usage: Usage) -> tuple[str, str] | None:
    """"Used X of Y": sessions for a program counted in uses, else money."""
    if program.uses is not None and voucher.uses_left is not None:
        done = program.uses - voucher.uses_left
        return (f"已用 {done} 次，共 {program.uses} 次",  # noqa: RUF001
                f"used {done} of {program.uses} sessions")
    if not usage.granted:
        return None
    used = cards.money_text(usage.used, program.currency)
    granted = cards.money_text(usage.granted, program.currency)
    return f"已用 {used}，共 {granted}", f"used {used} of {granted}"  # noqa: RUF001


def _allowance(program: Program, usage: Usage, zone: ZoneInfo) -> tuple[str, str] | None:
    """A monthly allowance: how much each month, and when the next one arrives."""
    if not program.allowance:
        return None
    monthly = cards.money_text(int(program.allowance["amount"]), program.currency)
    if usage.next_credit_at is None:
        return f"每月 {monthly}（已全部发放）", f"{monthly} a month (all given)"  # noqa: RUF001
    day = usage.next_credit_at.astimezone(zone).date().isoformat()
    return (f"每月 {monthly}，下次发放：{day}",  # noqa: RUF001
            f"{monthly} a month; next on {day}")


def _per_visit(program: Program) -> tuple[str, str] | None:
    cap, currency = program.per_visit_cap, program.currency
    if not cap:
        return None
    # The cap holds per shop and local day (migration 0200), however many visits.
    return (f"每家店每天最多 {cards.money_text(cap, currency)}",
            f"at most {currency} {format_major(cap, currency)} a day at each shop")


def _left(voucher: HeldVoucher, program: Program) -> tuple[str, str]:
    """What is left to spend now: uses for a program counted in uses, else money."""
    if voucher.uses_left is not None:
        return f"{voucher.uses_left} 次", f"{voucher.uses_left} uses left"
    currency, balance = program.currency, voucher.balance or 0
    return (cards.money_text(balance, currency),
            f"{currency} {format_major(balance, currency)} left")
