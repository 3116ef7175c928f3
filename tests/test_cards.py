"""Voucher cards and A4 PDF sheets: decoded by a real QR decoder from the PNG and from a
rendered PDF page (pypdfium2), at print sizes; Chinese and English on the card."""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp
from aiohttp.test_utils import TestClient
from PIL import Image

from pos.api.app import create_app
from pos.config import Config
from pos.printing import cards, fonts
from pos.storage.setup import Program
from tests.conftest import ADMIN, ENGLISH, World, make_config
from tests.issuance_support import csv_bytes, exported, quote, run_pos, upload


def decoded(img: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(img)
            if r.format == zxingcpp.BarcodeFormat.QRCode]


async def test_card_png_scans_at_card_and_small_print_sizes(world: World) -> None:
    shop = await world.shop("Little Sprout 小芽母婴店")
    program = await world.program(name="Baby voucher 婴儿券", partners=[shop], face_value=50000)
    (voucher,) = await world.issue(program)
    resp = await world.client.get(f"/v1/vouchers/{voucher['id']}/card.png", headers=ADMIN)
    assert resp.status == 200, await resp.text()
    card = Image.open(io.BytesIO(await resp.read()))
    # ID-1 card at 300 dpi.
    assert card.size == (round(85.6 / 25.4 * 300), round(54 / 25.4 * 300))
    assert decoded(card) == [voucher["token"]]
    for dpi in (150, 100):  # an office printer's draft mode, a phone photo of the card
        small = card.resize((round(card.width * dpi / 300), round(card.height * dpi / 300)),
                            Image.Resampling.LANCZOS)
        assert decoded(small) == [voucher["token"]], dpi
    status, quoted = await quote(world, shop, token=voucher["token"])
    assert status == 200, quoted


def test_card_text_is_bilingual_and_names_no_person() -> None:
    program = Program(
        id="00000000-0000-0000-0000-000000000001", name="Nutrition care voucher 营养关爱券",
        currency="CNY", restrictions=("any",), rule_settings={}, face_value=0,
        per_visit_cap=None, uses=None, unit_price=None,
        valid_from=datetime.fromisoformat("2026-01-01T00:00:00+08:00"),
        valid_until=datetime.fromisoformat("2027-01-01T00:00:00+08:00"),
        allowance={"amount": 30000, "count": 12, "rollover": False},
        require_identity=False, channels=("cash",),
        created_at=datetime.fromisoformat("2025-12-01T00:00:00+08:00"), merchant_ids=())
    face = cards.card_face(program, token="t", code="ABCD-EFGH-JKMN-P",
                           timezone="Asia/Shanghai")
    assert (face.value_zh, face.value_en) == ("¥300.00/月 \u00d712",
                                              "CNY 300.00 a month x 12")
    assert (face.valid_from, face.valid_until) == ("2026-01-01", "2026-12-31")
    font = fonts.find_cjk_font()
    texts = [t.text for t in cards.layout(face, cards.measurer(font)).texts]
    for label in ("面值 Value", "有效期 Valid", "手动码 Manual code", "ABCD-EFGH-JKMN-P"):
        assert label in texts
    uses = cards.describe_value(dataclasses.replace(program, uses=8, unit_price=1000,
                                                    allowance=None))
    assert uses == ("8 次", "8 uses")


def test_font_search_takes_only_fonts_that_draw_chinese(tmp_path: Path) -> None:
    found = fonts.find_cjk_font()
    assert fonts.usable_face(found.path, found.index) is not None
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if latin.exists():
        assert fonts.usable_face(latin) is None
    with pytest.raises(fonts.FontNotFound, match="cannot draw Chinese"):
        fonts.find_cjk_font(str(tmp_path / "missing.ttf"))


async def test_a_missing_font_is_a_clear_problem(
        aiohttp_client: Any, database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data",
                         POS_VOUCHERS_FONT_PATH=str(tmp_path / "none.otf"))
    client: TestClient[Any, Any] = await aiohttp_client(create_app(config))
    world = World(client)
    (voucher,) = await world.issue(await world.program())
    resp = await client.get(f"/v1/vouchers/{voucher['id']}/card.png", headers=ADMIN)
    assert resp.status == 503
    problem = await resp.json()
    assert problem["code"] == "font_unavailable"
    assert problem["detail"] == "没有可显示中文的字体，无法生成卡片。"  # noqa: RUF001
    resp = await client.get(f"/v1/vouchers/{voucher['id']}/card.png",
                            headers=ADMIN | {"Accept-Language": "en"})
    assert "none.otf" in (await resp.json())["detail"]  # the operator's: which file
    await client.close()


async def test_pdf_sheets_of_a_batch_scan_from_a_rendered_page(world: World) -> None:
    shop = await world.shop()
    program = await world.program(name="Wish voucher 心愿券", partners=[shop])
    rows = [{"ref": f"child-{i:03d}"} for i in range(12)]
    status, created = await upload(world.client, program, csv_bytes(rows))
    assert status == 201, created
    listed = await exported(world.client, created["id"])
    tokens = {r["token"] for r in listed}

    resp = await world.client.get(created["links"]["cards_pdf"], headers=ADMIN)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/pdf"
    pdf = pdfium.PdfDocument(await resp.read())
    assert len(pdf) == 2  # ten cards per A4 page
    page = pdf[0]
    assert (round(page.get_width() / 72 * 25.4), round(page.get_height() / 72 * 25.4)) == (
        210, 297)
    text = page.get_textpage().get_text_range()
    for expected in ("心愿券", "有效期", "Valid", listed[0]["code"], listed[9]["code"]):
        assert expected in text
    for dpi in (200, 100):  # a printed sheet photographed, or printed in draft
        found = decoded(page.render(scale=dpi / 72).to_pil())
        assert len(found) == 10, dpi
        assert set(found) <= tokens
    status, quoted = await quote(world, shop, token=found[0])
    assert status == 200, quoted

    # A range of the list: lines 12 and 13 of the CSV are its 11th and 12th rows.
    resp = await world.client.get(created["links"]["cards_pdf"] + "?from_line=12&count=5",
                                  headers=ADMIN)
    second = pdfium.PdfDocument(await resp.read())
    assert len(second) == 1
    assert set(decoded(second[0].render(scale=150 / 72).to_pil())) == {
        listed[10]["token"], listed[11]["token"]}
    for query in ("?count=0", "?count=2001", "?from_line=0", "?count=x"):
        bad = await world.client.get(created["links"]["cards_pdf"] + query, headers=ADMIN)
        assert (bad.status, (await bad.json())["code"]) == (422, "validation_error"), query


async def test_pos_cards_writes_the_sheets(world: World, config: Config, tmp_path: Path
                                           ) -> None:
    program = await world.program()
    status, created = await upload(world.client, program,
                                   csv_bytes([{"ref": f"r{i}"} for i in range(3)]))
    assert status == 201
    out = tmp_path / "cards.pdf"
    done = await run_pos(config, "cards", "--issuance", created["id"], str(out))
    assert done.returncode == 0, done.stderr
    assert f"已写入 {out}（3 张券卡）" in done.stdout  # noqa: RUF001
    done = await run_pos(config, "cards", "--issuance", created["id"], str(out), env=ENGLISH)
    assert f"wrote {out} (3 cards)" in done.stdout
    assert out.stat().st_mode & 0o077 == 0  # every QR on it is a usable token
    assert len(pdfium.PdfDocument(out)) == 1
