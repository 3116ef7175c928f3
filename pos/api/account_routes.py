"""Accounts over HTTP: signing in and out of the console, one's own password and personal
tokens, administrators' account management, the audit log and its check, and the changes
waiting for a second account."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from aiohttp import web

from pos.accounts import four_eyes, signing_in
from pos.accounts.signing_in import SESSION_COOKIE, Throttle
from pos.api.auth import bearer
from pos.api.client_address import client_address
from pos.api.requests import AccountIn, PasswordChangeIn, TokenIn
from pos.api.routing import Query, Routes, whole_number
from pos.api.state import (
    body,
    calling_staff,
    json_response,
    path_id,
    services,
)
from pos.errors import NOT_AN_ACCOUNT, Problem, not_found, validation_error
from pos.messages import Phrase, msg, words
from pos.service.services import Services
from pos.storage import accounts as store
from pos.storage import audit_log, throttles
from pos.storage import confirmations as confirmation_store

routes = Routes("accounts")


def safe_next(value: str) -> str:
    """Only a path of this console: never another site after signing in."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") \
            or "\\" in value:
        return "/admin/"
    return value


def _throttle(svc: Services) -> Throttle:
    return Throttle(svc.config.console.sign_in_attempts, svc.config.console.lock_minutes * 60)


def cookie_secure(request: web.Request) -> bool:
    """Secure whenever the service is reached over HTTPS (directly or as the configured
    public URL); a plain-HTTP loopback set-up would otherwise never keep the cookie."""
    return request.secure or services(request).config.server.public_url.startswith("https://")


def set_session_cookie(request: web.Request, response: web.StreamResponse,
                       value: str) -> None:
    svc = services(request)
    response.set_cookie(SESSION_COOKIE, value, max_age=svc.config.console.session_hours * 3600,
                        httponly=True, samesite="Strict", secure=cookie_secure(request),
                        path="/")


async def sign_in_from_form(request: web.Request) -> tuple[web.HTTPSeeOther | None, str]:
    """Sign in with the console's form; (the redirect with the cookie, '') or (None, the
    reason to show on the form)."""
    svc = services(request)
    # Per client address (read through trusted proxies), in PostgreSQL across processes.
    address = client_address(request, svc.config.server.trusted_proxies)
    if not await throttles.take(svc.pool, f"console-sign-in:{address}",
                                svc.config.console.sign_ins_per_minute):
        return None, "throttled_address"
    if request.content_type != "application/x-www-form-urlencoded":
        raise validation_error(msg("validation_error.sign_in_form"))
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError):
        raise validation_error(msg("validation_error.sign_in_form")) from None
    login, password = form.get("login"), form.get("password")
    # No login holds NUL (and PostgreSQL text cannot): such a form is simply not right.
    if not isinstance(login, str) or not isinstance(password, str) or not login \
            or len(login) > 63 or len(password) > 200 or "\x00" in login:
        return None, "sign_in_failed"
    try:
        session = await signing_in.sign_in(
            svc.pool, login, password, throttle=_throttle(svc),
            session_seconds=svc.config.console.session_hours * 3600)
    except Problem as problem:
        return None, problem.code
    target = "/admin/password" if session.account.must_change_password \
        else safe_next(str(form.get("next", "/admin/")))
    response = web.HTTPSeeOther(target)
    set_session_cookie(request, response, session.cookie_value)
    return response, ""


@routes.post("/admin/sign-out", summary="Sign this browser out of the console", auth="staff",
             content_type="text/html", status=303,
             action=words("在此浏览器上退出控制台", "Sign out of the console"))
async def console_sign_out(request: web.Request) -> web.StreamResponse:
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        await signing_in.sign_out(services(request).pool, session)
    response = web.HTTPSeeOther("/admin/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@routes.get("/v1/me", summary="Who is signed in, with which role", auth="staff")
async def me(request: web.Request) -> web.Response:
    staff = calling_staff(request)
    return json_response({"login": staff.login, "role": staff.role, "via": staff.via,
                          "account_id": staff.account_id,
                          "must_change_password": staff.must_change_password})


def _account_only(request: web.Request) -> str:
    staff = calling_staff(request)
    if staff.account_id is None:
        raise NOT_AN_ACCOUNT("The bootstrap admin token is not an account: "
                             "sign in with a named account for this.")
    return staff.account_id


@routes.post("/v1/me/password", summary="Change one's own password (ends every session, "
             "then signs this browser in again)", auth="staff", body=PasswordChangeIn,
             action=words("修改本人密码", "Change one's own password"))
async def change_password(request: web.Request) -> web.Response:
    _account_only(request)
    payload = await body(request, PasswordChangeIn)
    svc = services(request)
    staff = calling_staff(request)
    await signing_in.change_password(svc.pool, staff, payload.current, payload.new)
    response = json_response({"login": staff.login, "changed": True})
    if staff.via == "session":
        session = await signing_in.sign_in(
            svc.pool, staff.login, payload.new, throttle=_throttle(svc),
            session_seconds=svc.config.console.session_hours * 3600)
        set_session_cookie(request, response, session.cookie_value)
    return response


@routes.post("/v1/me/sign-out", summary="Sign out everywhere: end every session of one's "
             "account and revoke its personal tokens (but the one calling)", auth="staff",
             action=words("在所有设备上退出登录", "Sign out everywhere"))
async def sign_out_everywhere(request: web.Request) -> web.Response:
    account_id = _account_only(request)
    calling_token = bearer(request) if calling_staff(request).via == "personal_token" else None
    ended, revoked = await signing_in.sign_out_everywhere(services(request).pool, account_id,
                                                          calling_token)
    response = json_response({"sessions_ended": ended, "tokens_revoked": revoked})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/v1/me/tokens", summary="One's own personal API tokens", auth="staff")
async def list_tokens(request: web.Request) -> web.Response:
    found = await store.list_tokens(services(request).pool, _account_only(request))
    return json_response({"tokens": [
        {"id": t.id, "name": t.name, "created_at": t.created_at.isoformat(),
         "revoked": t.revoked} for t in found]})


@routes.post("/v1/me/tokens", summary="Make a personal API token (shown only here)",
             auth="staff", body=TokenIn, status=201,
             action=words("创建个人 API 令牌", "Make a personal API token"))
async def create_token(request: web.Request) -> web.Response:
    account_id = _account_only(request)
    payload = await body(request, TokenIn)
    token, record = await signing_in.new_token(services(request).pool, account_id,
                                               payload.name)
    response = json_response({"id": record.id, "name": record.name, "token": token},
                             status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/v1/me/tokens/{id}/revoke", summary="Revoke one of one's own tokens",
             auth="staff", action=words("撤销本人的 API 令牌", "Revoke one's own API token"))
async def revoke_token(request: web.Request) -> web.Response:
    token_id = path_id(request, "id", "token")
    if not await store.revoke_token(services(request).pool, _account_only(request), token_id):
        raise not_found("live token of yours")
    return json_response({"id": token_id, "revoked": True})


# ------------------------------------------------------------------------------------------
# administrators


@routes.get("/v1/accounts", summary="Every named account and its role", auth="admin")
async def list_accounts(request: web.Request) -> web.Response:
    found = await store.list_accounts(services(request).pool)
    return json_response({"accounts": [
        {"id": a.id, "login": a.login, "role": a.role, "disabled": a.disabled,
         "must_change_password": a.must_change_password,
         "created_at": a.created_at.isoformat()} for a in found]})


@routes.post("/v1/accounts", summary="Add an account; its one-time password (and token) "
             "are shown only here", auth="admin", body=AccountIn, status=201,
             action=words("添加账号", "Add an account"))
async def create_account(request: web.Request) -> web.Response:
    payload = await body(request, AccountIn)
    made = await signing_in.add_account(services(request).pool, payload.login, payload.role,
                                        with_token=payload.token)
    response = json_response({"id": made.account.id, "login": made.account.login,
                              "role": made.account.role,
                              "one_time_password": made.one_time_password,
                              "token": made.token}, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


def _account_switch(action: str, named: Phrase) -> None:
    async def switch(request: web.Request) -> web.Response:
        account_id = path_id(request, "id", "account")
        if calling_staff(request).account_id == account_id and action == "disable":
            raise validation_error(words("不能停用自己的账号。",
                                         "You cannot disable your own account."))
        if not await store.set_disabled(services(request).pool, account_id,
                                        action == "disable"):
            raise not_found("account")
        return json_response({"id": account_id, "disabled": action == "disable"})

    switch.__name__ = f"{action}_account"
    routes.post(f"/v1/accounts/{{id}}/{action}", summary=f"{action.capitalize()} an account "
                "(disabling ends its sessions and stops its tokens)", auth="admin",
                action=named)(switch)


_account_switch("disable", words("停用账号", "Disable an account"))
_account_switch("enable", words("启用账号", "Enable an account"))


@routes.post("/v1/accounts/{id}/reset-password", summary="Give an account a new one-time "
             "password (shown only here)", auth="admin",
             action=words("重置账号的一次性密码", "Reset an account's one-time password"))
async def reset_password(request: web.Request) -> web.Response:
    account_id = path_id(request, "id", "account")
    one_time = await signing_in.reset_password(services(request).pool, account_id)
    response = json_response({"id": account_id, "one_time_password": one_time})
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------------------
# the audit log and four eyes


# What the audit log can be narrowed by (here and on the console's audit page).
AUDIT_FILTERS = (
    Query("actor", "Only what this login did.", {"type": "string", "maxLength": 200}),
    Query("table", "Only changes to this table.", {"type": "string", "maxLength": 200}),
    Query("object", "Only changes to this row (its id).", {"type": "string", "maxLength": 200}),
    whole_number("before", "Only rows before this row number (the next page).", 1, 2**63 - 1),
)


def audit_filter(query: Mapping[str, str] | web.Request) -> audit_log.AuditFilter:
    values = query.query if isinstance(query, web.Request) else query
    before = values.get("before")
    # Bounded before int(), then to the column's bigint.
    if before is not None and not (before.isascii() and before.isdigit()
                                   and len(before) <= 19 and int(before) < 2**63):
        raise validation_error(words("before 须是行号。", "before must be a row number."))
    return audit_log.AuditFilter(
        actor=_filter_text(values, "actor"), object_table=_filter_text(values, "table"),
        object_id=_filter_text(values, "object"),
        before_seq=int(before) if before else None)


def _filter_text(values: Mapping[str, str], name: str) -> str | None:
    """A filter's text, None when absent; no login, table or id is longer than 200
    characters (NUL is refused by the router, for every query)."""
    value = values.get(name) or None
    if value is not None and len(value) > 200:
        raise validation_error(words("{name} 最多 200 个字符。",
                                     "{name} must be at most 200 characters.", name=name))
    return value


@routes.get("/v1/audit-log", summary="The audit log, newest first (?actor=, ?table=, "
            "?object=, ?before=)", auth="staff", query=AUDIT_FILTERS)
async def read_audit_log(request: web.Request) -> web.Response:
    found = await audit_log.entries(services(request).pool, audit_filter(request))
    return json_response({"entries": [
        {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor_login, "role": e.actor_role,
         "address": e.address, "action": e.action, "table": e.object_table,
         "operation": e.operation, "object": e.object_id, "rows": e.row_count,
         "before": e.before, "after": e.after, "hash": e.hash} for e in found]})


@routes.get("/v1/audit-log/verify", summary="Check the audit log's hash chain", auth="staff")
async def verify_audit_log(request: web.Request) -> web.Response:
    checked, broken = await audit_log.verify_chain(services(request).pool)
    return json_response({"rows_checked": checked, "intact": broken is None,
                          "break": None if broken is None else
                          {"seq": broken.seq, "reason": broken.reason}})


@routes.get("/v1/confirmations", summary="Top-ups and reissues waiting for a second account",
            auth="staff")
async def list_confirmations(request: web.Request) -> web.Response:
    found = await confirmation_store.open_changes(services(request).pool)
    return json_response({"confirmations": [c.as_dict() for c in found]})


@routes.post("/v1/confirmations/{id}/confirm", summary="Confirm and carry out a change "
             "another account asked for", auth="officer",
             action=words("确认并执行他人申请的变更", "Confirm another account's change"))
async def confirm(request: web.Request) -> web.Response:
    pending_id = path_id(request, "id", "change awaiting confirmation")
    answer = await four_eyes.confirm(services(request), calling_staff(request), pending_id)
    response = json_response(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/v1/confirmations/{id}/cancel", summary="Refuse a change waiting for "
             "confirmation", auth="officer",
             action=words("拒绝待确认的变更", "Refuse a change waiting for confirmation"))
async def cancel(request: web.Request) -> web.Response:
    pending_id = path_id(request, "id", "change awaiting confirmation")
    await four_eyes.cancel(services(request), calling_staff(request), pending_id)
    return json_response({"id": pending_id, "status": "cancelled"})
