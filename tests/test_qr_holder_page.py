"""The holder's page `GET /v/{code}`: the QR (which the till accepts), what is left, where
and until when, in Chinese and English, and nothing about the person."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from pos.api.app import create_app
from tests.conftest import ADMIN, World, make_config, new_key
from tests.issuance_support import csv_bytes, exported, quote, redeem, upload
from tests.test_qr import decode, svg_to_image

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def test_holder_page_shows_the_voucher_and_no_personal_data(world: World) -> None:
    shop = await world.shop("Township Stationery 乡镇文具店")
    other = await world.shop("Not a partner")
    program = await world.program(name="Wish voucher 心愿券", partners=[shop],
                                  per_visit_cap=10000)
    status, batch = await upload(world.client, program, csv_bytes(
        [{"ref": "child-4711", "holder_ref": "volunteer-42", "note": "hospital ward 3"}]))
    assert status == 201
    (row,) = await exported(world.client, batch["id"])
    status, _ = await redeem(world, shop, row["token"], 4550, new_key())
    assert status == 201

    resp = await world.client.get(f"/v/{row['code']}")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    page = await resp.text()
    assert 'name="viewport"' in page
    for shown in ("Wish voucher 心愿券", "余额", "Left", "¥254.50", "CNY 254.50 left",
                  "有效期", "Valid", "可用商户", "每家店每天最多 ¥100.00",
                  "CNY 100.00 a day at each shop",
                  "Township Stationery 乡镇文具店", row["code"]):
        assert shown in page, shown
    for hidden in ("child-4711", "volunteer-42", "hospital", "Not a partner", other.merchant_id):
        assert hidden not in page, hidden

    svg = page[page.index("<svg"):page.index("</svg>") + 6]
    (found,) = decode(svg_to_image(svg))
    assert found.text == row["token"]
    status, quoted = await quote(world, shop, token=found.text)
    assert status == 200 and quoted["voucher"]["balance"] == 25450

    # Typed as people type it: lower case, no dashes, O for 0.
    typed = row["code"].replace("-", "").lower().replace("0", "o")
    assert (await world.client.get(f"/v/{typed}")).status == 200


async def test_holder_page_of_a_counted_voucher_and_of_dead_codes(world: World) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop], uses=8, unit_price=5000)
    (voucher,) = await world.issue(program)
    page = await (await world.client.get(f"/v/{voucher['code']}")).text()
    assert "8 次" in page and "8 uses left" in page

    reissued = await (await world.client.post(f"/v1/vouchers/{voucher['id']}/reissue",
                                              headers=ADMIN)).json()
    old = await world.client.get(f"/v/{voucher['code']}", headers=BROWSER)
    assert old.status == 410
    assert "已更换" in await old.text() and "replaced" in await old.text()
    old = await world.client.get(f"/v/{voucher['code']}")  # not a browser: a problem
    assert old.content_type == "application/problem+json"
    assert (old.status, (await old.json())["code"]) == (410, "voucher_replaced")

    await world.post(f"/v1/vouchers/{voucher['id']}/suspend", None, status=200)
    page = await (await world.client.get(f"/v/{reissued['code']}")).text()
    assert "<svg" not in page and "on hold" in page

    for unknown in ("ABCD-EFGH-JKMN-P", "not-a-code", "x" * 300):
        resp = await world.client.get(f"/v/{unknown}", headers=BROWSER)
        assert resp.status == 404
        assert "找不到此券" in await resp.text()
        resp = await world.client.get(f"/v/{unknown}")
        assert (resp.status, (await resp.json())["code"]) == (404, "not_found")


async def test_holder_pages_are_rate_limited(aiohttp_client: Any, database_url: str,
                                            tmp_path: Any) -> None:
    config = make_config(database_url, tmp_path / "data", POS_VOUCHERS_HOLDER_VIEWS_PER_MINUTE="3")
    client: TestClient[Any, Any] = await aiohttp_client(create_app(config))
    statuses = [(await client.get("/v/ABCD-EFGH-JKMN-P")).status for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    limited = await client.get("/v/ABCD-EFGH-JKMN-P")
    assert limited.content_type == "application/problem+json"
    assert (await limited.json())["code"] == "rate_limited"
    await client.close()


async def test_holder_page_of_an_ended_program_before_expiry_has_run(
        world: World, config: Any) -> None:
    from tests.issuance_support import connect

    program = await world.program()
    (voucher,) = await world.issue(program)
    async with connect(config) as conn:
        await conn.execute("UPDATE programs SET valid_until = now() - interval '1 minute', "
                           "valid_from = now() - interval '2 days'")
    page = await (await world.client.get(f"/v/{voucher['code']}")).text()
    assert "<svg" not in page and "此券已过期" in page and "expired" in page
