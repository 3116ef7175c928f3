"""Pairing a tablet with a till, and serving the till app, through the real API."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import pytest
from pos_terminals import TABLET_DIR

from pos import taxonomy
from pos.api.till_app_routes import content_type
from pos.till import pairing_code
from tests.conftest import ADMIN, Shop, World, basket
from tests.test_api_contract import full_width


async def new_code(world: World, till_id: str, headers: dict[str, str] | None = None,
                   status: int = 201) -> Any:
    resp = await world.client.post(f"/v1/tills/{till_id}/pairing-codes",
                                   headers=headers or ADMIN)
    data = await resp.json()
    assert resp.status == status, data
    return data


async def pair(world: World, code: str, status: int = 201) -> Any:
    resp = await world.client.post("/v1/pairings", json={"code": code})
    data = await resp.json()
    assert resp.status == status, data
    return data


async def quote_status(world: World, secret: str, token: str) -> int:
    resp = await world.client.post(
        "/v1/quotes", json={"token": token, "basket": basket(("stationery", 1, 500))},
        headers={"Authorization": f"Bearer {secret}"})
    return resp.status


async def shop_with_voucher(world: World) -> tuple[Shop, dict[str, str]]:
    shop = await world.shop("Stationery")
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    return shop, voucher


async def test_a_pairing_code_gives_the_tablet_its_own_till_secret(world: World) -> None:
    shop, voucher = await shop_with_voucher(world)
    made = await new_code(world, shop.till_id)
    assert made["till_id"] == shop.till_id
    assert pairing_code.normalise(made["code"]) is not None and len(made["code"]) == 9

    paired = await pair(world, made["code"])
    assert paired["till_id"] == shop.till_id
    assert paired["merchant_id"] == shop.merchant_id
    assert (paired["merchant_name"], paired["till_name"]) == ("Stationery", "Till 1")
    assert paired["secret"].startswith("till_") and paired["secret"] != shop.secret

    assert await quote_status(world, paired["secret"], voucher["token"]) == 200
    # The till has one credential: the secret it had before pairing stops working.
    assert await quote_status(world, shop.secret, voucher["token"]) == 401


async def test_a_code_works_once(world: World) -> None:
    shop, _ = await shop_with_voucher(world)
    code = (await new_code(world, shop.till_id))["code"]
    await pair(world, code)
    refused = await pair(world, code, status=400)
    assert refused["code"] == "invalid_pairing_code"
    assert refused["detail"] == "配对码无效或已过期，请向管理员要一个新的。"  # noqa: RUF001


async def test_a_newer_code_replaces_an_unused_one(world: World) -> None:
    shop, _ = await shop_with_voucher(world)
    first = (await new_code(world, shop.till_id))["code"]
    second = (await new_code(world, shop.till_id))["code"]
    assert (await pair(world, first, status=400))["code"] == "invalid_pairing_code"
    await pair(world, second)


async def test_an_expired_code_is_refused(world: World, database_url: str) -> None:
    shop, _ = await shop_with_voucher(world)
    code = (await new_code(world, shop.till_id))["code"]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE till_pairing_codes SET expires_at = now() - interval '1 second'")
    finally:
        await conn.close()
    assert (await pair(world, code, status=400))["code"] == "invalid_pairing_code"


async def test_a_code_is_typed_forgivingly(world: World) -> None:
    shop, _ = await shop_with_voucher(world)
    code = (await new_code(world, shop.till_id))["code"]
    # Lower case, no dash, spaces, and the letter O typed for a zero.
    typed = " " + code.replace("-", "").lower().replace("0", "o") + " "
    await pair(world, typed)


async def test_a_code_typed_in_full_width_pairs(world: World) -> None:
    shop, _ = await shop_with_voucher(world)
    code = (await new_code(world, shop.till_id))["code"]
    await pair(world, full_width(code.lower()))


@pytest.mark.parametrize("typed", ["", "ABCD", "ABCD-EFGH-J", "ABCD-EFG!"])
async def test_malformed_codes_are_refused_without_a_lookup(world: World, typed: str) -> None:
    resp = await world.client.post("/v1/pairings", json={"code": typed})
    data = await resp.json()
    assert resp.status in (400, 422), data
    assert data["code"] in ("invalid_pairing_code", "validation_error")
    assert resp.content_type == "application/problem+json"


async def test_pairing_attempts_are_rate_limited(world: World) -> None:
    statuses = []
    for _ in range(12):
        resp = await world.client.post("/v1/pairings", json={"code": "ZZZZ-ZZZZ"})
        statuses.append(resp.status)
    assert statuses[:10] == [400] * 10
    assert statuses[-1] == 429
    assert (await resp.json())["code"] == "rate_limited"


async def test_only_the_admin_makes_pairing_codes(world: World) -> None:
    shop, _ = await shop_with_voucher(world)
    forbidden = await new_code(world, shop.till_id, headers=shop.headers(), status=403)
    assert forbidden["code"] == "forbidden"
    resp = await world.client.post(f"/v1/tills/{shop.till_id}/pairing-codes")
    assert resp.status == 401
    await new_code(world, "8b5c3c1e-1111-4222-8333-944445555666", status=404)
    await new_code(world, "not-a-till", status=404)


async def test_a_disabled_till_cannot_pair(world: World, database_url: str) -> None:
    shop, _ = await shop_with_voucher(world)
    code = (await new_code(world, shop.till_id))["code"]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE tills SET disabled_at = now() WHERE id = $1", shop.till_id)
        assert (await pair(world, code, status=400))["code"] == "invalid_pairing_code"
        # Nothing of the refused attempt was kept: the code is still unspent.
        used = await conn.fetchval("SELECT used_at FROM till_pairing_codes")
        assert used is None
    finally:
        await conn.close()
    await new_code(world, shop.till_id, status=404)


async def test_a_till_reads_who_it_is(world: World) -> None:
    shop, _ = await shop_with_voucher(world)
    resp = await world.client.get("/v1/till", headers=shop.headers())
    assert resp.status == 200
    assert await resp.json() == {"till_id": shop.till_id, "merchant_id": shop.merchant_id,
                                 "till_name": "Till 1", "merchant_name": "Stationery",
                                 "time_zone": "Asia/Shanghai"}  # the shop's clock
    assert (await world.client.get("/v1/till", headers=ADMIN)).status == 403
    assert (await world.client.get("/v1/till")).status == 401


def test_pairing_codes_normalise() -> None:
    for _ in range(20):
        code = pairing_code.new_code()
        symbols = pairing_code.normalise(code)
        assert symbols is not None and len(symbols) == 8 and "-" not in symbols
    assert pairing_code.normalise("abcd-efgh") == "ABCDEFGH"
    assert pairing_code.normalise("ILOU-0000") == "110V0000"
    assert pairing_code.normalise("ABCD-EFG") is None
    assert pairing_code.code_hash("ABCDEFGH") != pairing_code.code_hash("ABCDEFGJ")


# ------------------------------------------------------------------------------------------
# serving the app


async def test_the_till_app_is_served_with_a_strict_policy(world: World) -> None:
    resp = await world.client.get("/till/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert 'src="app.js"' in html
    policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert resp.headers["Permissions-Policy"] == "camera=(self)"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"

    redirect = await world.client.get("/till", allow_redirects=False)
    assert redirect.status == 301 and redirect.headers["Location"] == "/till/"


async def test_every_file_of_the_app_is_served_with_its_type(world: World) -> None:
    files = [p for p in TABLET_DIR.rglob("*") if p.is_file() and p.name != "README.md"]
    assert len(files) >= 10
    for path in files:
        relative = path.relative_to(TABLET_DIR).as_posix()
        url = "/till/" if relative == "index.html" else f"/till/{relative}"
        resp = await world.client.get(url)
        assert resp.status == 200, url
        assert resp.headers["Content-Type"].startswith(content_type(path)), url
        assert await resp.read() == path.read_bytes()
    assert content_type(TABLET_DIR / "app.js") == "text/javascript"
    assert content_type(TABLET_DIR / "vendor" / "qrcode-generator" / "qrcode.mjs") \
        == "text/javascript"
    assert content_type(TABLET_DIR / "vendor" / "jsqr" / "LICENSE") == "text/plain"


async def test_vendored_libraries_carry_their_licences(world: World) -> None:
    for folder in ("jsqr", "qrcode-generator"):
        resp = await world.client.get(f"/till/vendor/{folder}/LICENSE")
        assert resp.status == 200
        assert "License" in await resp.text() or "LICENSE" in await resp.text()


@pytest.mark.parametrize("path", [
    "/till/../pos/config.py", "/till/%2e%2e/pyproject.toml", "/till/vendor/README.md",
    "/till/nothing.js", "/till/vendor/",
])
async def test_nothing_else_is_served(world: World, path: str) -> None:
    resp = await world.client.get(path)
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"


async def test_the_pairing_and_app_routes_are_documented(world: World) -> None:
    doc = await (await world.client.get("/v1/openapi.json")).json()
    paths = doc["paths"]
    pairing = paths["/v1/tills/{id}/pairing-codes"]["post"]
    assert pairing["security"] == [{"admin": []}, {"personal_token": []},
                                   {"console_session": []}]
    assert pairing["x-roles"] == ["admin", "officer"]
    assert "security" not in paths["/v1/pairings"]["post"]
    assert "requestBody" in paths["/v1/pairings"]["post"]
    assert "text/html" in paths["/till/"]["get"]["responses"]["200"]["content"]
    assert "/till/app.js" in paths


async def test_the_category_list_is_the_services_taxonomy(world: World) -> None:
    resp = await world.client.get("/till/categories.json")
    assert resp.status == 200
    groups = (await resp.json())["groups"]
    served = {c["code"]: (g["group"], c["label"]) for g in groups for c in g["categories"]}
    assert served == taxonomy.CATEGORIES


def test_every_category_and_group_has_a_chinese_label() -> None:
    """The Chinese till names each code itself (English labels come from the service)."""
    source = (TABLET_DIR / "i18n.js").read_text(encoding="utf-8")
    zh = source[source.index('"zh-CN": {'):source.index("\n  en: {")]
    categories = zh[zh.index("categories: {"):zh.index("groups: {")]
    groups = zh[zh.index("groups: {"):zh.index("problems: {")]
    named = set(re.findall(r"(\w+): \"", categories))
    assert named == set(taxonomy.CATEGORIES)
    assert set(re.findall(r"(\w+): \"", groups)) == {g for g, _ in taxonomy.CATEGORIES.values()}
