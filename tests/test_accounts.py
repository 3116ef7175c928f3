"""Named accounts over the real app and PostgreSQL: a one-time password that must be
changed, Argon2id hashes, sessions with CSRF protection, throttled sign-in, sign-out
everywhere, personal tokens with exactly the account's role, and no secret in any log."""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
import pytest

from pos.config import Config
from tests.accounts_support import (
    NEW_PASSWORD,
    Session,
    csrf_of,
    person,
    session_cookie,
    sign_in,
    signed_in,
)
from tests.conftest import ENGLISH, World
from tests.settlement_support import pos_command


async def test_a_new_officer_signs_in_changes_the_password_and_works(
    world: World, db: asyncpg.Connection[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    officer = await person(world, "li.officer", "officer")
    client = world.client

    resp = await sign_in(client, "li.officer", officer.one_time_password)
    assert resp.status == 303 and resp.headers["Location"] == "/admin/password"
    cookie = session_cookie(resp)
    set_cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    # Until the one-time password is changed, the session opens nothing else.
    resp = await client.get("/v1/programs", headers={"Cookie": f"pos_session={cookie}"})
    assert (resp.status, (await resp.json())["code"]) == (403, "password_change_required")
    resp = await client.get("/admin/programs", allow_redirects=False, headers={
        "Cookie": f"pos_session={cookie}", "Accept": "text/html"})
    assert resp.status == 303 and resp.headers["Location"] == "/admin/password"

    session = await signed_in(client, officer)
    resp = await client.post("/v1/merchants", json={"name": "阳光超市"},
                             headers=session.headers())
    assert resp.status == 201
    # Without the CSRF token a cookie alone changes nothing.
    resp = await client.post("/v1/merchants", json={"name": "Forged"},
                             headers=session.headers(csrf=False))
    assert (resp.status, (await resp.json())["code"]) == (403, "csrf_failed")
    assert await db.fetchval("SELECT count(*) FROM merchants WHERE name = 'Forged'") == 0
    # An officer does not settle.
    resp = await client.post("/v1/settlements", json={"period_end": "2030-01-01", "by": "x"},
                             headers=session.headers())
    assert (resp.status, (await resp.json())["code"]) == (403, "forbidden")

    stored = await db.fetchrow("SELECT password_hash, must_change_password FROM accounts "
                               "WHERE login = 'li.officer'")
    assert stored is not None
    assert stored["password_hash"].startswith("$argon2id$")
    assert stored["must_change_password"] is False
    sessions = await db.fetch("SELECT id_hash FROM account_sessions")
    assert all(len(bytes(r["id_hash"])) == 32 for r in sessions)
    # No password, token or session id in any log line.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (officer.one_time_password, NEW_PASSWORD, cookie, session.cookie,
                   officer.token_headers["Authorization"].split()[1]):
        assert secret not in logged


async def test_wrong_passwords_lock_the_account_for_a_while(world: World) -> None:
    await person(world, "wang.finance", "finance")
    for _ in range(5):
        resp = await sign_in(world.client, "wang.finance", "not the password")
        assert resp.status == 401
        assert "不正确" in await resp.text()  # the form says so, in Chinese by default
    resp = await sign_in(world.client, "wang.finance", "still wrong")
    assert resp.status == 429
    # An unknown login is refused the same way as a wrong password.
    resp = await sign_in(world.client, "nobody", "whatever")
    assert resp.status == 401


async def test_sign_out_everywhere_ends_every_session(world: World) -> None:
    auditor = await person(world, "zhao.audit", "auditor")
    first = await signed_in(world.client, auditor)
    resp = await sign_in(world.client, "zhao.audit", NEW_PASSWORD)
    second = Session(session_cookie(resp), "")
    second.csrf = await csrf_of(world.client, second.cookie)
    resp = await world.client.post("/v1/me/sign-out", headers=second.headers())
    assert resp.status == 200 and (await resp.json())["sessions_ended"] == 2
    for session in (first, second):
        resp = await world.client.get("/v1/me", headers=session.headers())
        assert resp.status == 401


async def test_sign_out_everywhere_also_stops_the_accounts_personal_tokens(
        world: World, db: asyncpg.Connection[Any]) -> None:
    # Someone who held the session for a while made a token of their own; signing out
    # everywhere must not leave them that way back in.
    auditor = await person(world, "qian.audit", "auditor")
    session = await signed_in(world.client, auditor)
    made = await world.post("/v1/me/tokens", {"name": "kept by whoever had the session"},
                            headers=session.headers())
    kept = {"Authorization": f"Bearer {made['token']}"}
    assert (await world.client.get("/v1/me", headers=kept)).status == 200
    resp = await world.client.post("/v1/me/sign-out", headers=session.headers())
    assert resp.status == 200
    assert await resp.json() == {"sessions_ended": 1, "tokens_revoked": 2}
    for headers in (kept, auditor.token_headers, session.headers()):
        resp = await world.client.get("/v1/me", headers=headers)
        assert (resp.status, (await resp.json())["code"]) == (401, "unauthorized")
    assert await db.fetchval("SELECT count(*) FROM account_tokens WHERE revoked_at IS NULL "
                             "AND account_id = $1", auditor.account_id) == 0
    # A script signing out everywhere with its own token keeps that one, and only that one.
    resp = await sign_in(world.client, "qian.audit", NEW_PASSWORD)
    again = Session(session_cookie(resp), "")
    again.csrf = await csrf_of(world.client, again.cookie)
    script, other = [{"Authorization": "Bearer " + (await world.post(
        "/v1/me/tokens", {"name": name}, headers=again.headers()))["token"]}
        for name in ("nightly", "other")]
    resp = await world.client.post("/v1/me/sign-out", headers=script)
    assert await resp.json() == {"sessions_ended": 1, "tokens_revoked": 1}
    assert (await world.client.get("/v1/me", headers=script)).status == 200
    assert (await world.client.get("/v1/me", headers=other)).status == 401


async def test_personal_tokens_carry_the_role_and_can_be_revoked(world: World) -> None:
    auditor = await person(world, "audit.bot", "auditor")
    resp = await world.client.get("/v1/audit-log", headers=auditor.token_headers)
    assert resp.status == 200
    resp = await world.client.post("/v1/merchants", json={"name": "x"},
                                   headers=auditor.token_headers)
    assert (resp.status, (await resp.json())["code"]) == (403, "forbidden")
    made = await world.post("/v1/me/tokens", {"name": "nightly export"},
                            headers=auditor.token_headers)
    second = {"Authorization": f"Bearer {made['token']}"}
    assert (await world.client.get("/v1/me", headers=second)).status == 200
    await world.post(f"/v1/me/tokens/{made['id']}/revoke", {}, status=200,
                     headers=auditor.token_headers)
    resp = await world.client.get("/v1/me", headers=second)
    assert (resp.status, (await resp.json())["code"]) == (401, "unauthorized")


async def test_pos_users_add_prints_a_one_time_password_and_a_token(
    world: World, config: Config
) -> None:
    done = await pos_command(config, "users", "add", "chen.admin", "--role", "admin",
                             "--token", env=ENGLISH)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    token = lines["personal API token"]
    resp = await world.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert (await resp.json())["role"] == "admin"
    resp = await sign_in(world.client, "chen.admin", lines["one-time password"])
    assert resp.status == 303 and resp.headers["Location"] == "/admin/password"
    listed = await pos_command(config, "users", "list", env=ENGLISH)
    assert re.search(r"^chen\.admin\s+admin\s+active$", listed.stdout, re.M), listed.stdout

    # In Chinese by default, the secrets after a full-width colon.
    done = await pos_command(config, "users", "add", "li.officer", "--role", "officer")
    assert done.returncode == 0, done.stderr
    lines = dict(line.split("：", 1) for line in done.stdout.splitlines() if "：" in line)  # noqa: RUF001
    assert "账号 li.officer（项目专员）" in done.stdout  # noqa: RUF001
    resp = await sign_in(world.client, "li.officer", lines["一次性密码"])
    assert resp.status == 303 and resp.headers["Location"] == "/admin/password"
    listed = await pos_command(config, "users", "list")
    assert re.search(r"^li\.officer\s+项目专员\s+启用$", listed.stdout, re.M), listed.stdout
    short = await pos_command(config, "users", "add", "x", "--role", "officer")
    assert short.returncode == 2 and "错误：登录名须为 2 到 63 个字符" in short.stderr  # noqa: RUF001
