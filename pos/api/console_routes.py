"""The console's pages at /admin/ (HTML only; what they show comes from storage and the
domain, what their forms do goes through the JSON API with the session's CSRF token).
Rendering is `pos.console`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from pos import logs
from pos.accounts.staff import Staff
from pos.api import account_routes
from pos.api.directory_routes import SEARCH, find
from pos.api.openapi import ROUTE_SPECS
from pos.api.routing import Auth, Handler, Query, Routes, one_of
from pos.api.state import calling_staff, path_id, services
from pos.console import i18n, rendering
from pos.console.audit_changes import change_of
from pos.console.category_names import category_name, grouped
from pos.errors import not_found
from pos.printing import qr
from pos.reports import figures
from pos.roles import ADMITS, ROLES
from pos.settlement import exporting
from pos.storage import accounts as account_store
from pos.storage import audit_log, console_lists, settlements
from pos.storage import confirmations as confirmation_store
from pos.storage import issuances as issuance_store
from pos.storage import setup as setup_store
from pos.storage import vouchers as voucher_store

routes = Routes("console")

LANG_COOKIE = "pos_lang"
RULES = ("any", "categories", "nutrition", "books", "baby", "study", "meals", "medicine",
         "approved_products")
_NAV = (("nav_home", "/admin/"), ("nav_programs", "/admin/programs"),
        ("nav_merchants", "/admin/merchants"), ("nav_vouchers", "/admin/vouchers"),
        ("nav_reports", "/admin/reports"), ("nav_settlement", "/admin/settlement"),
        ("nav_audit", "/admin/audit"))
_STATIC = resources.files("pos.console") / "static"


def language(request: web.Request) -> str:
    asked = request.query.get("lang") or request.cookies.get(LANG_COOKIE, "")
    return asked if asked in i18n.LANGUAGES else i18n.DEFAULT


def _html(request: web.Request, text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html",
                            charset="utf-8", headers={
                                "Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                "Content-Security-Policy":
                                    "default-src 'self'; img-src 'self' data:; "
                                    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
                                "Referrer-Policy": "same-origin"})
    if request.query.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, request.query["lang"], max_age=365 * 86400,
                            samesite="Lax", path="/")
    return response


def page(request: web.Request, template: str, title_key: str, active: str,
         **context: Any) -> web.Response:
    staff = calling_staff(request)
    lang = language(request)
    nav = list(_NAV)
    if staff.role == "admin":
        nav.append(("nav_accounts", "/admin/accounts"))
    if staff.is_person:
        nav.append(("nav_tokens", "/admin/tokens"))
    can = {kind: staff.role in ADMITS[kind] for kind in ("officer", "finance", "admin")}
    title = context.pop("title", None) or i18n.translator(lang)[title_key]
    text = rendering.render(
        template, lang, timezone=services(request).config.redemption.timezone,
        page_query=dict(request.query), staff=staff, csrf=staff.csrf_token or "", nav=nav,
        active=active, can=can, title=title, **context)
    return _html(request, text)


def wants_console_page(request: web.Request) -> bool:
    """A browser asking for a console page (a script asking for JSON gets the problem)."""
    return request.method == "GET" and request.path.startswith("/admin") \
        and "text/html" in request.headers.get("Accept", "")


def problem_page(request: web.Request, status: int, said: str) -> web.Response:
    """A refused console page (nothing there, a role that may not see it, the database
    away) as a page: the sentence in the console's language, the request id to read out to
    support, and the way back."""
    lang = language(request)
    text = i18n.translator(lang)
    title = text.get(f"problem_page_{status}", text["problem_page"])
    body = rendering.render(
        "problem.html", lang, timezone=services(request).config.redemption.timezone,
        page_query=dict(request.query), staff=None, csrf="", nav=[], active="", title=title,
        said=said, request_id=logs.request_id.get() or "")
    return _html(request, body, status)


# Every console page reads the language to show it in (and remembers it in a cookie).
LANG = one_of("lang", "Show the page in this language, and keep it for the next pages.",
              i18n.LANGUAGES)


def _staff_page(path: str, summary: str, auth: Auth = "staff", query: Sequence[Query] = ()
                ) -> Callable[[Handler], Handler]:
    return routes.get(path, summary=f"Console: {summary}", auth=auth,
                      content_type="text/html", query=[LANG, *query])


# ------------------------------------------------------------------------------------------
# signing in, static files


@routes.get("/admin/login", summary="Console: the sign-in form", auth="none",
            content_type="text/html",
            query=[LANG, Query("next", "The console page to open once signed in.")])
async def console_login_form(request: web.Request) -> web.Response:
    return _login_page(request, failed="")


def _login_page(request: web.Request, failed: str, status: int = 200) -> web.Response:
    lang = language(request)
    text = rendering.render(
        "login.html", lang, timezone=services(request).config.redemption.timezone,
        page_query=dict(request.query), staff=None, csrf="", nav=[], active="",
        title=i18n.translator(lang)["sign_in"], failed=failed,
        next=account_routes.safe_next(request.query.get("next", "/admin/")))
    return _html(request, text, status)


@routes.post("/admin/login", summary="Console: sign in with a login and password (a form)",
             auth="none", content_type="text/html", status=303)
async def console_login(request: web.Request) -> web.StreamResponse:
    response, failed = await account_routes.sign_in_from_form(request)
    if response is not None:
        raise response
    return _login_page(request, failed, status=429 if "throttled" in failed else 401)


def _static(name: str, media_type: str) -> None:
    data = (_STATIC / name).read_bytes()

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=data, content_type=media_type, charset="utf-8",
                            headers={"Cache-Control": "no-cache",
                                     "X-Content-Type-Options": "nosniff"})

    serve.__name__ = "console_" + name.replace(".", "_")
    routes.get(f"/admin/{name}", summary=f"Console: {name}", auth="none",
               content_type=media_type)(serve)


_static("console.css", "text/css")
_static("console.js", "text/javascript")


# ------------------------------------------------------------------------------------------
# pages


@routes.get("/admin", summary="Console (redirects to /admin/)", auth="none",
            content_type="text/html", status=301)
async def console_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/admin/")


@_staff_page("/admin/", "overview and changes waiting for a second person")
async def home(request: web.Request) -> web.Response:
    pool = services(request).pool
    programs = await console_lists.programs(pool)
    merchants = await console_lists.merchants(pool)
    pending = await confirmation_store.open_changes(pool)
    return page(request, "home.html", "home_title", "/admin/",
                counts={"programs": len(programs), "merchants": len(merchants)},
                pending=pending)


@_staff_page("/admin/password", "change one's password")
async def password_page(request: web.Request) -> web.Response:
    return page(request, "password.html", "password_title", "")


@_staff_page("/admin/programs", "programs and the form to create one")
async def programs_page(request: web.Request) -> web.Response:
    found = await console_lists.programs(services(request).pool)
    return page(request, "programs.html", "programs_title", "/admin/programs",
                programs=found, rules=RULES, category_groups=grouped(language(request)))


@_staff_page("/admin/programs/{id}", "a program: terms, edit, partners, issuance")
async def program_page(request: web.Request) -> web.Response:
    pool = services(request).pool
    program_id = path_id(request, "id", "program")
    program = await setup_store.get_program(pool, program_id)
    partners = await console_lists.partners(pool, program_id)
    partner_ids = {p["id"] for p in partners}
    others = [m for m in await console_lists.merchants(pool) if m["id"] not in partner_ids]
    allowed = program.rule_settings.get("categories", {}).get("allowed", [])
    return page(request, "program.html", "program_title", "/admin/programs",
                title=program.name, program=program, partners=partners, others=others,
                allowed=allowed,
                issuances=await issuance_store.list_issuances(pool, program_id))


@_staff_page("/admin/merchants", "merchants and their tills")
async def merchants_page(request: web.Request) -> web.Response:
    found = await console_lists.merchants(services(request).pool)
    return page(request, "merchants.html", "merchants_title", "/admin/merchants",
                merchants=found)


@_staff_page("/admin/tills/{id}", "pair a till: a code and the till's address as a QR code",
             auth="officer")
async def till_page(request: web.Request) -> web.Response:
    svc = services(request)
    till = await console_lists.till(svc.pool, path_id(request, "id", "till"))
    if till is None:
        raise not_found("till")
    base = svc.config.server.public_url.rstrip("/") or \
        f"{request.scheme}://{request.host}"
    till_url = f"{base}/till/"
    return page(request, "till.html", "pairing_title", "/admin/merchants",
                title=f"{till['merchant_name']} · {till['name']}", till=till,
                till_url=till_url, qr_svg=await asyncio.to_thread(qr.svg, till_url, 6))


@_staff_page("/admin/vouchers", "find a voucher", query=[SEARCH])
async def vouchers_page(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()[:100]
    found = await find(request, query) if query else []
    return page(request, "vouchers.html", "vouchers_title", "/admin/vouchers",
                query=query, found=found)


@_staff_page("/admin/vouchers/{id}", "a voucher: balance, credits, history, actions")
async def voucher_page(request: web.Request) -> web.Response:
    pool = services(request).pool
    voucher = await voucher_store.get_voucher(pool, path_id(request, "id", "voucher"))
    program = await setup_store.get_program(pool, voucher["program_id"])
    return page(request, "voucher.html", "vouchers_title", "/admin/vouchers",
                title=voucher["beneficiary_ref"], voucher=voucher,
                program_name=program.name, program_zone=program.time_zone,
                history=await console_lists.voucher_history(pool, voucher["id"]))


@_staff_page("/admin/reports", "programs' reports")
async def reports_page(request: web.Request) -> web.Response:
    found = await console_lists.programs(services(request).pool)
    return page(request, "reports.html", "reports_title", "/admin/reports", programs=found)


@_staff_page("/admin/reports/{id}", "a program's report with charts and unused vouchers")
async def console_report_page(request: web.Request) -> web.Response:
    svc = services(request)
    lang = language(request)
    report = await figures.program_report(svc.pool, path_id(request, "id", "program"),
                                          svc.config.redemption.timezone)
    text = i18n.translator(lang)
    from pos.reports import svg_charts  # matplotlib only when a report is drawn

    charts = await asyncio.to_thread(
        svg_charts.render_charts, report,
        {key: text["chart_" + key] for key in ("categories", "merchants", "months")},
        lambda code: category_name(code, lang))
    return page(request, "report.html", "report_title", "/admin/reports",
                title=f"{text['report_title']} · {report['program']['name']}",
                report=report, charts=charts)


@_staff_page("/admin/settlement", "settlement runs: approve, paid, failed, files")
async def settlement_page(request: web.Request) -> web.Response:
    svc = services(request)
    zone = ZoneInfo(svc.config.redemption.timezone)
    return page(request, "settlement.html", "settlement_title", "/admin/settlement",
                batches=await settlements.list_batches(svc.pool),
                formats=[f["name"] for f in exporting.describe_exporters(svc)],
                # A period can only end in the past: yesterday is the latest whole day.
                today=(datetime.now(zone).date() - timedelta(days=1)).isoformat())


@_staff_page("/admin/audit", "the audit log, filterable, and its chain check",
             query=account_routes.AUDIT_FILTERS)
async def audit_page(request: web.Request) -> web.Response:
    pool = services(request).pool
    filters = account_routes.audit_filter(request)
    entries = await audit_log.entries(pool, filters, limit=100)
    checked, broken = await audit_log.verify_chain(pool)
    older = None
    if len(entries) == 100:
        query = {k: v for k, v in request.query.items() if k != "before"}
        older = "?" + "&".join(f"{k}={v}" for k, v in
                               (query | {"before": str(entries[-1].seq)}).items())
    return page(request, "audit.html", "audit_title", "/admin/audit", entries=entries,
                filters=filters, tables=await audit_log.tables_logged(pool),
                chain_ok=broken is None, checked=checked, broken=broken, older=older,
                action_name=_action_names(request), change_of=change_of)


def _action_names(request: web.Request) -> Callable[[str], tuple[str | None, str]]:
    """What the audit page shows of a row's action (`pos.db.actor`): the route's `action`
    in the page's language, or a command's own words in English (a Chinese page shows only
    the command), and the route or command itself."""
    lang = language(request)
    english = lang == "en"
    named = {f"{spec.method} {spec.path}": spec.action.render(lang)
             for spec in request.app[ROUTE_SPECS] if spec.action is not None}

    def name(action: str) -> tuple[str | None, str]:
        what, _, said = action.partition(": ")
        return named.get(what) or (said if english and said else None), what
    return name


@_staff_page("/admin/accounts", "accounts and roles", auth="admin")
async def accounts_page(request: web.Request) -> web.Response:
    found = await account_store.list_accounts(services(request).pool)
    return page(request, "accounts.html", "accounts_title", "/admin/accounts",
                accounts=found, roles=ROLES)


@_staff_page("/admin/tokens", "one's own personal API tokens")
async def tokens_page(request: web.Request) -> web.Response:
    staff: Staff = calling_staff(request)
    found = [] if staff.account_id is None else \
        await account_store.list_tokens(services(request).pool, staff.account_id)
    return page(request, "tokens.html", "tokens_title", "/admin/tokens", tokens=found)

