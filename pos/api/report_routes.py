"""Program reports: JSON for systems, CSV downloads, and a page for people at
`/reports/{program}`.

People sign in once with the admin token on a small form; they then hold a cookie that
proves it (an expiring HMAC keyed by the token, so nothing is stored and changing the
token signs everyone out). The cookie is good for reports only; the JSON and CSV routes
take the admin bearer token as well.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

from aiohttp import web

from pos.api.client_address import client_address
from pos.api.routing import Routes
from pos.api.state import ADMIN_TOKEN, auth, json_response, path_id, services
from pos.errors import InputProblem, not_found, unauthorized, validation_error
from pos.reports import figures, html_page
from pos.storage import throttles

routes = Routes("reports")

COOKIE = "pos_reports"
SESSION_SECONDS = 8 * 3600


def _session_mac(token: str, expires: int) -> str:
    key = hashlib.sha256(token.encode()).digest()
    return hmac.new(key, f"reports:{expires}".encode(), hashlib.sha256).hexdigest()


def session_cookie(token: str, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"{expires}.{_session_mac(token, expires)}"


def _has_session(request: web.Request) -> bool:
    value = request.cookies.get(COOKIE, "")
    expires_text, _, mac = value.partition(".")
    # Bounded before int(): a cookie of thousands of digits is simply not a session.
    if (not (expires_text.isascii() and expires_text.isdigit()) or len(expires_text) > 12
            or int(expires_text) < time.time()):
        return False
    expected = _session_mac(request.app[ADMIN_TOKEN], int(expires_text))
    return hmac.compare_digest(mac, expected)


def _require_reader(request: web.Request) -> None:
    """The admin bearer token, or a report session cookie."""
    if _has_session(request):
        return
    auth(request).require_admin(request)


def _timezone(request: web.Request) -> str:
    return services(request).config.redemption.timezone


@routes.get("/v1/programs/{id}/report", summary="A program's report: value issued, "
            "redeemed, voided, expired and remaining; by category, merchant and month",
            auth="admin")
async def program_report(request: web.Request) -> web.Response:
    _require_reader(request)
    program_id = path_id(request, "id", "program")
    report = await figures.program_report(await services(request).reader(), program_id,
                                          _timezone(request))
    return json_response(report)


@routes.get("/v1/programs/{id}/report/{section}.csv", summary="One section of a program's "
            "report as CSV (summary, categories, merchants, months, unused)", auth="admin",
            content_type="text/csv")
async def program_report_csv(request: web.Request) -> web.Response:
    _require_reader(request)
    program_id = path_id(request, "id", "program")
    section = request.match_info["section"]
    if section not in figures.SECTIONS:
        raise not_found("report section")
    data = await figures.report_csv(await services(request).reader(), program_id, section,
                                    _timezone(request))
    return web.Response(body=data, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="report-{program_id}-{section}.csv"',
        "Cache-Control": "no-store",
    })


def _wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def _safe_next(value: str) -> str:
    """Only back to a report page: never an open redirect."""
    return value if value.startswith("/reports/") and "//" not in value else "/reports/login"


@routes.get("/reports/login", summary="Sign-in form of the report pages", auth="none",
            content_type="text/html")
async def login_form(request: web.Request) -> web.Response:
    page = html_page.login_page(_safe_next(request.query.get("next", "")), failed=False)
    return web.Response(text=page, content_type="text/html", charset="utf-8")


@routes.post("/reports/login", summary="Sign in to the report pages with the admin token",
             auth="none", content_type="text/html")
async def login(request: web.Request) -> web.Response:
    svc = services(request)
    address = client_address(request, svc.config.server.trusted_proxies)
    if not await throttles.take(svc.pool, f"sign-in:{address}",
                                svc.config.limits.sign_ins_per_minute):
        raise InputProblem("rate_limited", "Too many sign-in attempts. Wait a minute and "
                           "try again.", status=429)
    if request.content_type != "application/x-www-form-urlencoded":
        raise validation_error("Send the sign-in form.")
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError):
        raise validation_error("Send the sign-in form.") from None
    token, next_path = form.get("token"), _safe_next(str(form.get("next", "")))
    admin = request.app[ADMIN_TOKEN]
    if not isinstance(token, str) or not hmac.compare_digest(
            hashlib.sha256(token.encode()).digest(), hashlib.sha256(admin.encode()).digest()):
        return web.Response(text=html_page.login_page(next_path, failed=True), status=401,
                            content_type="text/html", charset="utf-8")
    response = web.HTTPSeeOther(next_path)
    response.set_cookie(COOKIE, session_cookie(admin), max_age=SESSION_SECONDS, httponly=True,
                        samesite="Strict", secure=request.secure, path="/")
    raise response


@routes.get("/reports/{program}", summary="A program's report as a page, with charts",
            auth="admin", content_type="text/html")
async def report_html(request: web.Request) -> web.Response:
    program_id = path_id(request, "program", "program")
    if not _has_session(request) and not auth(request).is_admin(request):
        if _wants_html(request):
            raise web.HTTPSeeOther(f"/reports/login?next=/reports/{program_id}")
        raise unauthorized("Sign in with the admin token.")
    report = await figures.program_report(await services(request).reader(), program_id,
                                          _timezone(request))
    # matplotlib is imported on the first report page, not by every till-serving process.
    from pos.reports import svg_charts

    charts = await asyncio.to_thread(svg_charts.render_charts, report)
    page = html_page.report_page(report, charts, f"/v1/programs/{program_id}/report")
    return web.Response(text=page, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})
