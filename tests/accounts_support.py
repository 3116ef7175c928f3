"""Helpers for tests of named accounts: an account of a role with its personal token, and a
signed-in console session (cookie and CSRF token) with the one-time password changed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import World

NEW_PASSWORD = "a long passphrase 42"


@dataclass
class Person:
    login: str
    role: str
    account_id: str
    one_time_password: str
    token_headers: dict[str, str]


async def person(world: World, login: str, role: str) -> Person:
    made = await world.post("/v1/accounts", {"login": login, "role": role, "token": True})
    return Person(login, role, made["id"], made["one_time_password"],
                  {"Authorization": f"Bearer {made['token']}"})


@dataclass
class Session:
    cookie: str
    csrf: str

    def headers(self, *, csrf: bool = True) -> dict[str, str]:
        out = {"Cookie": f"pos_session={self.cookie}"}
        if csrf:
            out["X-CSRF-Token"] = self.csrf
        return out


def session_cookie(resp: Any) -> str:
    found = resp.cookies.get("pos_session")
    assert found is not None, resp.headers
    return str(found.value)


async def sign_in(client: TestClient[Any, Any], login: str, password: str) -> Any:
    resp = await client.post("/admin/login", data={"login": login, "password": password},
                             allow_redirects=False)
    client.session.cookie_jar.clear()  # each test names the session it uses explicitly
    return resp


async def csrf_of(client: TestClient[Any, Any], cookie: str, path: str = "/admin/") -> str:
    resp = await client.get(path, headers={"Cookie": f"pos_session={cookie}",
                                           "Accept": "text/html"}, allow_redirects=False)
    assert resp.status == 200, (resp.status, resp.headers)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', await resp.text())
    assert found is not None
    return found.group(1)


async def signed_in(client: TestClient[Any, Any], who: Person) -> Session:
    """Sign in with the one-time password and choose a new one, as a person does first."""
    resp = await sign_in(client, who.login, who.one_time_password)
    assert resp.status == 303 and resp.headers["Location"] == "/admin/password"
    cookie = session_cookie(resp)
    csrf = await csrf_of(client, cookie, "/admin/password")
    resp = await client.post("/v1/me/password", json={"current": who.one_time_password,
                                                      "new": NEW_PASSWORD},
                             headers=Session(cookie, csrf).headers())
    assert resp.status == 200, await resp.text()
    client.session.cookie_jar.clear()
    cookie = session_cookie(resp)
    return Session(cookie, await csrf_of(client, cookie))
