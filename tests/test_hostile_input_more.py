"""More hostile input that once gave a 500: numbers and NUL in query strings, bytes that are
not UTF-8 in a credential, a body whose content encoding does not decode, NUL in a form or
a CSV list. Each gets a 4xx problem and changes nothing; a credential that cannot be read
is a wrong credential (401), never an error of the service."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import asyncpg
import pytest

from tests.accounts_support import person, signed_in
from tests.conftest import ADMIN, World

HUGE = "9" * 5000  # int() refuses over 4,300 digits with a ValueError


async def _counts(db: asyncpg.Connection[Any]) -> tuple[int, ...]:
    return tuple([
        await db.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
        for table in ("programs", "vouchers", "redemptions", "accounts", "account_sessions",
                      "approved_products")
    ])


async def _refused(resp: Any, status: int, code: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(await resp.text())
    assert (resp.status, body.get("code")) == (status, code), (resp.status, body)
    assert resp.content_type == "application/problem+json"
    return body


async def test_numbers_in_query_strings_are_bounded_before_parsing(world: World) -> None:
    program = await world.program()
    (voucher,) = await world.issue(program)
    for limit in (HUGE, "²", "-1", "0", "501"):
        resp = await world.client.get(
            f"/v1/vouchers/{voucher['id']}/redemptions", params={"limit": limit},
            headers=ADMIN)
        await _refused(resp, 422, "validation_error")
    # Past bigint, past int()'s digits, a digit int() does not read, and a negative row.
    for before in (str(2**63), HUGE, "²", "-5"):
        for path in ("/v1/audit-log", "/admin/audit"):
            resp = await world.client.get(path, params={"before": before}, headers=ADMIN)
            await _refused(resp, 422, "validation_error")
    resp = await world.client.get("/v1/audit-log", params={"before": str(2**63 - 1)},
                                  headers=ADMIN)
    assert resp.status == 200


async def test_nul_in_a_query_string_is_refused(world: World) -> None:
    for path, name in (("/v1/vouchers", "q"), ("/admin/vouchers", "q"),
                       ("/v1/audit-log", "actor"), ("/v1/audit-log", "table"),
                       ("/v1/audit-log", "object"), ("/admin/audit", "actor")):
        resp = await world.client.get(path, params={name: "ab\x00c"}, headers=ADMIN)
        await _refused(resp, 422, "validation_error")
    resp = await world.client.get("/v1/audit-log", params={"actor": "x" * 300},
                                  headers=ADMIN)
    await _refused(resp, 422, "validation_error")
    resp = await world.client.get("/v1/audit-log", params={"actor": "nobody"}, headers=ADMIN)
    assert resp.status == 200 and (await resp.json())["entries"] == []


async def _raw(world: World, head: bytes, body: bytes = b"") -> tuple[int, str, dict[str, Any]]:
    """Send bytes no HTTP client library would send; (status, content type, body)."""
    server = world.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head + b"Connection: close\r\n"
                     + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    top, _, payload = answer.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return (int(lines[0].split()[1]), headers.get("Content-Type", ""),
            json.loads(payload.decode()))


async def test_a_credential_that_is_not_utf8_is_a_wrong_one(world: World) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    officer = await person(world, "hostile.officer", "officer")
    session = await signed_in(world.client, officer)
    redemption = f"/v1/redemptions/{shop.till_id}"
    for path, credential in (
            ("/v1/till", b"Authorization: Bearer till_\xff\xfe"),
            ("/v1/till", b"Authorization: Bearer \xff\xfe"),
            ("/v1/programs", b"Authorization: Bearer \xff\xfe"),
            ("/v1/programs", b"Authorization: Bearer pat_\xe9\xff"),
            ("/v1/programs", b"Cookie: pos_session=\xff\xfe"),
            (redemption, b"Authorization: Bearer till_\xff"),
            (redemption, b"Authorization: Bearer \xff"),
            (f"/v1/programs/{program}/report", b"Cookie: pos_reports=9999999999.\xff\xfe")):
        status, ctype, body = await _raw(
            world, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + credential
            + b"\r\n")
        assert (status, body["code"]) == (401, "unauthorized"), (path, credential, body)
        assert ctype.startswith("application/problem+json")
    # A console session whose CSRF header is bytes that are not UTF-8: not from the page.
    status, _, body = await _raw(
        world, b"POST /v1/me/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Cookie: pos_session={session.cookie}\r\n".encode()
        + b"X-CSRF-Token: \xff\xfe\r\n", b'{"name": "script"}')
    assert (status, body["code"]) == (403, "csrf_failed"), body


async def test_a_body_whose_encoding_does_not_decode_is_a_400(
        world: World, db: asyncpg.Connection[Any], caplog: pytest.LogCaptureFixture) -> None:
    shop = await world.shop()
    before = await _counts(db)
    for encoding in ("gzip", "deflate"):
        resp = await world.client.post(
            "/v1/quotes", data=b"this is not compressed",
            headers={**shop.headers(), "Content-Type": "application/json",
                     "Content-Encoding": encoding})
        await _refused(resp, 400, "http_error")
        resp = await world.client.post(
            "/v1/merchants", data=b"not compressed either",
            headers={**ADMIN, "Content-Type": "application/json",
                     "Content-Encoding": encoding, "Accept-Language": "en"})
        body = await _refused(resp, 400, "http_error")
        assert "Content-Encoding" in body["detail"] and "Can not" not in body["detail"]
    assert await _counts(db) == before
    # The service's log says so in one warning line each time, with no trace.
    server = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert server and all(r.levelno == logging.WARNING and not r.exc_info for r in server)
    assert server[0].getMessage() == "a request body that does not decode: ContentEncodingError"


async def test_requests_aiohttp_refuses_itself_are_logged_in_one_line(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A request line too long or a broken chunk is refused before the app runs; the log
    says so in a warning line, not with a trace at error level."""
    server = world.client.server
    for request in (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"POST /v1/quotes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                    b"\r\n\r\nzz\r\nnot a chunk\r\n0\r\n\r\n"):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(request)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        assert answer.split(b" ", 2)[1] == b"400", answer[:60]
    logged = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(logged) == 2, [r.getMessage() for r in logged]
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in logged)
    assert logged[0].getMessage().startswith("a malformed request refused: ")


async def test_nul_in_a_sign_in_form_or_a_product_list_is_refused(
        world: World, db: asyncpg.Connection[Any]) -> None:
    program = await world.program(restrictions=["approved_products"])
    before = await _counts(db)
    resp = await world.client.post("/admin/login", data={"login": "ad\x00min",
                                                         "password": "whatever"},
                                   allow_redirects=False)
    assert resp.status == 401, await resp.text()  # the form again: that login is not right
    resp = await world.client.put(
        f"/v1/programs/{program}/approved-products",
        data=b"gtin,description\n4006381333931,pen\x00cil\n",
        headers={**ADMIN, "Content-Type": "text/csv"})
    await _refused(resp, 422, "validation_error")
    assert await _counts(db) == before


async def test_an_unknown_address_is_said_in_one_language(world: World) -> None:
    for path in ("/nowhere", "/v1/redemptions/../../etc/passwd", "/v1/programs/x/y/z"):
        resp = await world.client.get(path, headers=ADMIN)
        body = await _refused(resp, 404, "not_found")
        assert not any(c.isascii() and c.isalpha() for c in body["detail"]), body
        resp = await world.client.get(path, headers={**ADMIN, "Accept-Language": "en"})
        body = await _refused(resp, 404, "not_found")
        assert body["detail"] == "There is nothing at this address.", body
