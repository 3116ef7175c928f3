"""Hostile input gets a 4xx problem, never a 500: numbers of thousands of digits, CSV fields
over the parser's limit, tokens of another type; a real manual code at the wrong shop is
indistinguishable from a made-up one; a weak admin token is refused at start."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest

from pos import codes
from pos.config import Config
from pos.errors import ConfigError
from pos.service import admin_token
from pos.signing.keys import load_private_key
from tests.conftest import ADMIN, World, basket, make_config

HUGE = "9" * 5000  # int() refuses over 4,300 digits with a ValueError


async def test_huge_numbers_from_outside_are_refused_not_crashed(world: World) -> None:
    program = await world.program()
    client = world.client
    resp = await client.get(f"/reports/{program}",
                            cookies={"pos_reports": f"{HUGE}.abc"}, headers={"Accept": "*/*"})
    assert resp.status == 401, await resp.text()
    assert (await resp.json())["code"] == "unauthorized"
    (voucher,) = await world.issue(program)
    shop = await world.shop()
    raw = ('{"token": "%s", "basket": {"currency": "CNY", "lines": [{"sku": "S", '
           '"category": "food", "description": "rice", "quantity": %s, "unit_price": %s}]}}')
    for quantity, price in ((HUGE, "100"), ("1", HUGE), ("1", "-" + HUGE), ("1", "1e400")):
        resp = await client.post("/v1/quotes", data=raw % (voucher["token"], quantity, price),
                                 headers={**shop.headers(), "Content-Type": "application/json"})
        assert resp.status == 422, (quantity[:5], price[:5], await resp.text())
    for query in (f"module={HUGE}", "module=-1", "module=1e3"):
        resp = await client.get(f"/v1/vouchers/{voucher['id']}/qr.png?{query}", headers=ADMIN)
        assert resp.status == 422, (query, resp.status)
        assert (await resp.json())["code"] == "validation_error"


async def test_a_csv_field_over_the_parser_limit_is_a_422(world: World) -> None:
    program = await world.program(restrictions=["approved_products"])
    text = "gtin,description\n4006381333931," + "x" * (130 * 1024) + "\n"
    resp = await world.client.put(
        f"/v1/programs/{program}/approved-products", data=text.encode(),
        headers={**ADMIN, "Content-Type": "text/csv"})
    assert resp.status in (413, 422), await resp.text()
    assert resp.content_type == "application/problem+json"


def _with_header(token: str, **header: Any) -> str:
    _, body, sig = token.split(".")
    head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return ".".join([head, body, sig])


async def test_token_type_is_checked(world: World, config: Config) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    header = jwt.get_unverified_header(voucher["token"])
    claims = jwt.decode(voucher["token"], options={"verify_signature": False})
    key = load_private_key(config.data_dir, header["kid"])
    for typ in ("at+jwt", None):
        extra = {"kid": header["kid"], "typ": typ}
        signed = jwt.encode(claims, key, algorithm="EdDSA", headers=extra)
        if typ is None:  # PyJWT always writes a typ unless told otherwise
            signed = _with_header(signed, alg="EdDSA", kid=header["kid"])
        resp = await world.client.post(
            "/v1/quotes", json={"token": signed, "basket": basket(("food", 1, 1000))},
            headers=shop.headers())
        assert resp.status == 422, (typ, await resp.text())  # the voucher, never 401
        assert (await resp.json())["code"] == "invalid_token"


async def test_a_real_code_at_the_wrong_shop_answers_like_an_unknown_one(world: World) -> None:
    partner, stranger = await world.shop("Partner"), await world.shop("Stranger")
    program = await world.program(partners=[partner])
    (voucher,) = await world.issue(program)
    real = voucher["code"]
    # A well-formed code (right check symbol) that is nobody's voucher.
    made_up = codes.derive_code(b"made up", str(uuid.uuid4()), 0)

    async def quote(code: str) -> tuple[int, dict[str, Any]]:
        resp = await world.client.post(
            "/v1/quotes", json={"code": code, "basket": basket(("food", 1, 1000))},
            headers=stranger.headers())
        body = await resp.json()
        body.pop("request_id", None)
        return resp.status, body

    assert await quote(real) == await quote(made_up)
    status, body = await quote(real)
    assert status == 422 and body["code"] == "invalid_token"
    ok = await world.client.post(
        "/v1/quotes", json={"code": real, "basket": basket(("food", 1, 1000))},
        headers=partner.headers())
    assert ok.status == 200


def test_a_short_admin_token_is_refused_and_a_configured_one_never_shown(
        database_url: str, tmp_path: Path) -> None:
    short = make_config(database_url, tmp_path, POS_ADMIN_TOKEN="adm_short")
    with pytest.raises(ConfigError, match="at least 32"):
        admin_token.resolve_and_say_if_new(short)
    configured = make_config(database_url, tmp_path)
    assert admin_token.resolve_and_say_if_new(configured)[1] is False
    generated = make_config(database_url, tmp_path / "gen", POS_ADMIN_TOKEN="")
    token, new = admin_token.resolve_and_say_if_new(generated)
    assert new and len(token) >= 32
    assert admin_token.resolve_and_say_if_new(generated) == (token, False)  # shown once
