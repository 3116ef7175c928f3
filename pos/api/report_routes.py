"""Program reports: JSON for systems, CSV downloads, and a page for people at
`/reports/{program}`.

People sign in once with the admin token on a small form; they then hold a cookie that
proves it (`pos.api.auth.report_session_cookie`). The cookie is good for reports only
(guards "report_reader" and "report_page"); the JSON and CSV routes take the admin bearer
token as well.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from aiohttp import web

from pos.api.account_routes import cookie_secure
from pos.api.auth import REPORT_COOKIE, REPORT_SESSION_SECONDS, report_session_cookie
from pos.api.client_address import client_address
from pos.api.routing import Query, Routes
from pos.api.state import ADMIN_TOKEN, json_response, path_id, services
from pos.errors import RATE_LIMITED, not_found, validation_error
from pos.messages import msg
from pos.reports import figures, html_page
from pos.storage import throttles

routes = Routes("reports")

def _timezone(request: web.Request) -> str:
    return services(request).config.redemption.timezone


@routes.get("/v1/programs/{id}/report", summary="A program's report: value issued, "
            "redeemed, voided, expired and remaining; by category, merchant and month",
            auth="report_reader")
async def program_report(request: web.Request) -> web.Response:
    program_id = path_id(request, "id", "program")
    report = await figures.program_report(await services(request).reader(), program_id,
                                          _timezone(request))
    return json_response(report)


@routes.get("/v1/programs/{id}/report/{section}.csv", summary="One section of a program's "
            "report as CSV (summary, categories, merchants, months, unused)",
            auth="report_reader", content_type="text/csv")
async def program_report_csv(request: web.Request) -> web.Response:
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


def _safe_next(value: str) -> str:
    """Only back to a report page: never an open redirect."""
    return value if value.startswith("/reports/") and "//" not in value else "/reports/login"


@routes.get("/reports/login", summary="Sign-in form of the report pages", auth="none",
            content_type="text/html",
            query=[Query("next", "The report page to open once signed in.")])
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
        raise RATE_LIMITED("Too many sign-in attempts. Wait a minute and try again.")
    if request.content_type != "application/x-www-form-urlencoded":
        raise validation_error(msg("validation_error.sign_in_form"))
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError):
        raise validation_error(msg("validation_error.sign_in_form")) from None
    token, next_path = form.get("token"), _safe_next(str(form.get("next", "")))
    admin = request.app[ADMIN_TOKEN]
    if not isinstance(token, str) or not hmac.compare_digest(
            hashlib.sha256(token.encode()).digest(), hashlib.sha256(admin.encode()).digest()):
        return web.Response(text=html_page.login_page(next_path, failed=True), status=401,
                            content_type="text/html", charset="utf-8")
    response = web.HTTPSeeOther(next_path)
    response.set_cookie(REPORT_COOKIE, report_session_cookie(admin),
                        max_age=REPORT_SESSION_SECONDS, httponly=True, samesite="Strict",
                        secure=cookie_secure(request), path="/")
    raise response


@routes.get("/reports/{program}", summary="A program's report as a page, with charts",
            auth="report_page", content_type="text/html")
async def report_html(request: web.Request) -> web.Response:
    program_id = path_id(request, "program", "program")
    report = await figures.program_report(await services(request).reader(), program_id,
                                          _timezone(request))
    # matplotlib is imported on the first report page, not by every till-serving process.
    from pos.reports import svg_charts

    charts = await asyncio.to_thread(svg_charts.render_charts, report)
    page = html_page.report_page(report, charts, f"/v1/programs/{program_id}/report")
    return web.Response(text=page, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})
