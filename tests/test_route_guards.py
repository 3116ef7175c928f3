# ruff: noqa: RUF001
"""Every route's guard, walked from the app's own route table: a guarded route refuses a
caller with no credential, a wrong one, or one of the other kind, before its handler runs
and without changing anything (the scrape token of /metrics opens nothing else, and nothing
else opens /metrics); every staff route admits exactly the roles its kind names
(each role calling with its own personal token); and the open routes are exactly the ones
listed here."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import asyncpg
from pos_terminals import TABLET_DIR

from pos.api.openapi import ROUTE_SPECS
from pos.api.routing import STAFF_KINDS, RouteSpec
from pos.roles import ADMITS, ROLES
from tests.accounts_support import person, signed_in
from tests.conftest import ADMIN, SCRAPER, World, basket, new_key, till_headers
from tests.settlement_support import set_payee

# Adding an open route means adding it here, on purpose.
OPEN_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),  # for the load balancer: says only whether the database answers
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/favicon.ico"),  # the till's icon, a static file browsers ask for
    ("GET", "/v1/openapi.json"),
    ("POST", "/v1/pairings"),  # the pairing code is the credential
    ("POST", "/v1/channels/{name}/webhooks"),  # the channel verifies the provider's signature
    ("GET", "/v/{code}"),  # the holder's page: the code is the credential
    ("GET", "/reports/login"),
    ("POST", "/reports/login"),
    ("GET", "/till"),
    ("GET", "/till/"),
    ("GET", "/till/categories.json"),
    ("GET", "/admin"),  # a redirect to /admin/
    ("GET", "/admin/login"),
    ("POST", "/admin/login"),  # the login and password are the credential
    ("GET", "/admin/console.css"),
    ("GET", "/admin/console.js"),
    ("GET", "/till/app-files.json"),  # what the app's service worker keeps for offline use
}
# The tablet app's files are public by nature: shipping a file in it publishes it.
TABLET_FILES = {
    ("GET", f"/till/{path.relative_to(TABLET_DIR).as_posix()}")
    for path in TABLET_DIR.rglob("*")
    if path.is_file() and path.name != "README.md" and not path.name.startswith(".")
} - {("GET", "/till/index.html")}

# Written by the background task while the test runs, whatever the requests do.
BACKGROUND_TABLES = {"outbox_events", "channel_payments"}

ADMIN_KINDS = set(STAFF_KINDS) - {"till_or_admin"}
FORGED_TILL = till_headers("till_" + "f" * 43)
WRONG_ADMIN = {"Authorization": "Bearer adm_wrong_" + "y" * 32}


def _specs(world: World) -> list[RouteSpec]:
    return list(world.client.app[ROUTE_SPECS])


_DIGEST = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"


async def _fingerprint(db: asyncpg.Connection[Any]) -> dict[str, str]:
    """Every row of every table the requests could touch, as one digest per table."""
    tables = await db.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
    found = {}
    for row in tables:
        name = row["table_name"]
        if name in BACKGROUND_TABLES:
            continue
        query = f'SELECT {_DIGEST} FROM "{name}" t'  # noqa: S608 - a name from the catalogue
        found[name] = await db.fetchval(query)
    return found


async def _real_ids(world: World) -> tuple[dict[str, str], str]:
    """Ids of things that exist (by the path before them), so a guard that let a call
    through would change them; and a real till's secret."""
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "basket": basket(("food", 1, 100))},
        headers=shop.headers(new_key()))
    assert resp.status == 201, await resp.text()
    redemption = (await resp.json())["id"]
    return {"/v1/programs/": program, "/v1/merchants/": shop.merchant_id,
            "/v1/vouchers/": voucher["id"], "/v1/tills/": shop.till_id,
            "/v1/redemptions/": redemption, "/reports/": program}, shop.secret


def _url(spec: RouteSpec, ids: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("id", "program"):
            prefix = spec.path[:match.start()]
            return ids.get(prefix, str(uuid.uuid4()))
        return {"section": "summary", "format": "csv", "name": "cash",
                "code": "ABCD-EFGH"}.get(name, "x")
    return re.sub(r"{(\w+)[^}]*}", fill, spec.path)


async def _refused(world: World, spec: RouteSpec, url: str, headers: dict[str, str],
                   expected: tuple[int, str]) -> None:
    headers = {**headers, "Idempotency-Key": new_key()}
    body: dict[str, Any] | None = {} if spec.method in ("POST", "PUT", "PATCH") else None
    resp = await world.client.request(spec.method, url, json=body, headers=headers,
                                      allow_redirects=False)
    assert resp.content_type == "application/problem+json", (spec.method, url, resp.status)
    problem = await resp.json()
    assert (resp.status, problem["code"]) == expected, (spec.method, url, problem)


async def test_every_guarded_route_refuses_the_wrong_caller(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    ids, till_secret = await _real_ids(world)
    real_till = till_headers(till_secret)
    guarded = [spec for spec in _specs(world) if spec.auth != "none"]
    assert len(guarded) > 40
    before = await _fingerprint(db)
    for spec in guarded:
        url = _url(spec, ids)
        unauthorized = (401, "unauthorized")
        await _refused(world, spec, url, {}, unauthorized)
        if spec.auth != "metrics":
            await _refused(world, spec, url, SCRAPER, unauthorized)  # opens /metrics only
        if spec.auth in ADMIN_KINDS:
            await _refused(world, spec, url, WRONG_ADMIN, unauthorized)
            await _refused(world, spec, url, real_till, (403, "forbidden"))
            await _refused(world, spec, url, FORGED_TILL, unauthorized)  # nobody's secret
        elif spec.auth == "till":
            await _refused(world, spec, url, FORGED_TILL, unauthorized)
            await _refused(world, spec, url, ADMIN, (403, "forbidden"))
        elif spec.auth == "metrics":
            # The scrape token opens /metrics and nothing else opens it: no other
            # credential, however good elsewhere, is of its kind.
            for other in (WRONG_ADMIN, ADMIN, FORGED_TILL, real_till):
                await _refused(world, spec, url, other, unauthorized)
        else:
            assert spec.auth == "till_or_admin", spec.auth
            await _refused(world, spec, url, FORGED_TILL, unauthorized)
            await _refused(world, spec, url, WRONG_ADMIN, unauthorized)
    assert await _fingerprint(db) == before


async def test_a_forged_report_session_opens_nothing(world: World) -> None:
    ids, _ = await _real_ids(world)
    for spec in _specs(world):
        if spec.auth in ("report_reader", "report_page"):
            cookie = {"Cookie": "pos_reports=99999999999.0123abcd"}
            await _refused(world, spec, _url(spec, ids), cookie, (401, "unauthorized"))


async def test_the_open_routes_are_the_listed_ones(world: World) -> None:
    open_routes = {(spec.method, spec.path) for spec in _specs(world) if spec.auth == "none"}
    assert open_routes == OPEN_ROUTES | TABLET_FILES


async def _role_tokens(world: World) -> dict[str, dict[str, str]]:
    """A personal token of a fresh account of each role, made through the API."""
    headers: dict[str, dict[str, str]] = {}
    for role in ROLES:
        made = await world.post("/v1/accounts", {"login": f"guard-{role}", "role": role,
                                                 "token": True})
        headers[role] = {"Authorization": f"Bearer {made['token']}"}
    return headers


async def test_every_staff_route_admits_exactly_its_roles(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    ids, _ = await _real_ids(world)
    tokens = await _role_tokens(world)
    staff_routes = [spec for spec in _specs(world) if spec.auth in STAFF_KINDS]
    assert len(staff_routes) > 60
    before = await _fingerprint(db)
    admitted_calls = []
    for spec in staff_routes:
        admits = ADMITS[STAFF_KINDS[spec.auth]]
        for role in ROLES:
            if role in admits:
                admitted_calls.append((spec, role))
            else:
                await _refused(world, spec, _url(spec, ids), tokens[role], (403, "forbidden"))
    assert await _fingerprint(db) == before  # a refused role changed nothing
    for spec, role in admitted_calls:
        # Past the guard: whatever the handler says of the empty body, it is not about who
        # is calling, and never a 500.
        resp = await world.client.request(
            spec.method, _url(spec, ids), allow_redirects=False,
            json={} if spec.method in ("POST", "PUT", "PATCH") else None,
            headers={**tokens[role], "Idempotency-Key": new_key()})
        code = (await resp.json()).get("code") if resp.content_type.endswith("json") \
            else None
        assert resp.status < 500 and code not in ("unauthorized", "forbidden"), (
            spec.method, spec.path, role, resp.status, await resp.text())


async def test_a_good_staff_credential_at_a_till_route_is_of_the_wrong_kind(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    # 401 says the caller's own credential is wrong; a staff member's token or session is
    # right, only not a till's (403), as the admin token is.
    ids, _ = await _real_ids(world)
    officer = await person(world, "guard-till-officer", "officer")
    session = await signed_in(world.client, officer)
    till_routes = [spec for spec in _specs(world) if spec.auth == "till"]
    assert len(till_routes) >= 6
    before = await _fingerprint(db)
    for spec in till_routes:
        for headers in (officer.token_headers, session.headers()):
            await _refused(world, spec, _url(spec, ids), headers, (403, "forbidden"))
        # A personal token that is nobody's is still simply wrong.
        await _refused(world, spec, _url(spec, ids), {"Authorization": "Bearer pat_" + "z" * 43},
                       (401, "unauthorized"))
    assert await _fingerprint(db) == before


async def test_roles_are_what_the_issue_says(world: World) -> None:
    """Spot checks in words: an auditor reads but never writes; finance settles but does
    not issue; an officer issues but does not settle or manage accounts."""
    by_route = {(s.method, s.path): ADMITS[STAFF_KINDS[s.auth]] for s in _specs(world)
                if s.auth in STAFF_KINDS}
    assert "auditor" in by_route[("GET", "/v1/audit-log")]
    assert "auditor" in by_route[("GET", "/reports/{program}")]
    assert all("auditor" not in roles for (method, _), roles in by_route.items()
               if method != "GET" and (method, _) != ("POST", "/admin/sign-out")
               and not _.startswith("/v1/me"))
    assert by_route[("POST", "/v1/settlements/{id}/approve")] == {"admin", "finance"}
    assert by_route[("POST", "/v1/programs/{id}/issuances")] == {"admin", "officer"}
    assert by_route[("POST", "/v1/accounts")] == {"admin"}


async def test_staff_refusals_speak_to_staff_in_their_language(world: World) -> None:
    """A person at the console or with a personal token is told about their own credential
    or role, in Chinese by default: never the tablet's "re-pair this till"."""
    tokens = await _role_tokens(world)
    _, till_secret = await _real_ids(world)
    path = "/v1/accounts"  # administrators only
    cases = [
        ({}, 401, "请先登录：这项操作须由管理员办理。",
         "Sign in first: this needs an administrator."),
        (WRONG_ADMIN, 401, "管理员令牌不正确。", "The admin token is not right."),
        (till_headers(till_secret), 403, "收银台不能做这项操作，须由管理员办理。",
         "A till cannot do this; it needs an administrator."),
        (tokens["auditor"], 403, "这项操作须由管理员办理；您登录的角色是审计。",
         "This needs an administrator; you are signed in as auditor."),
    ]
    for headers, status, chinese, english in cases:
        for language, said in (("zh-CN", chinese), ("en", english)):
            resp = await world.client.get(path, headers={**headers,
                                                         "Accept-Language": language})
            body = await resp.json()
            assert (resp.status, body["detail"]) == (status, said), body
            assert "平板" not in body["detail"]


async def test_a_merchants_bank_account_is_listed_only_to_finance(world: World) -> None:
    """GET /v1/merchants lists every merchant to any signed-in role; its payout account
    only to the roles that pay merchants."""
    shop = await world.shop()
    await set_payee(world, shop)
    seen: dict[str, bool] = {}
    for role in ("officer", "auditor", "finance"):
        who = await person(world, f"payee.{role}", role)
        resp = await world.client.get("/v1/merchants", headers=who.token_headers)
        assert resp.status == 200
        merchant = next(m for m in (await resp.json())["merchants"]
                        if m["id"] == shop.merchant_id)
        seen[role] = "payee_account" in merchant
        assert ("6222020200112233445" in json.dumps(merchant)) == seen[role]
    assert seen == {"officer": False, "auditor": False, "finance": True}
