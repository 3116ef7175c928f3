"""Settlement exports through the exporter plugins: CSV for Excel, JSON, ISO 20022 pain.001
(validated against the official XSD), streamed, each file's SHA-256 recorded on the batch."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import xmlschema

from pos.config import Config
from tests.conftest import ADMIN, Shop, World, make_config
from tests.settlement_support import (
    CSV_COLUMNS,
    CSV_HEADER_ZH,
    act,
    csv_rows,
    insert_synthetic_redemptions,
    redeem,
    set_payee,
    settle,
    void,
)

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
DEBTOR_IBAN = "DE89370400440532013000"


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return make_config(database_url, tmp_path / "data",
                       POS_PLUGINS_EXPORT_PAIN001_DEBTOR_ACCOUNT=DEBTOR_IBAN,
                       POS_PLUGINS_EXPORT_PAIN001_DEBTOR_NAME="温暖基金会 Warmth Foundation",
                       POS_PLUGINS_EXPORT_PAIN001_DEBTOR_AGENT_BIC="COBADEFFXXX")


@pytest.fixture(scope="module")
def pain001_schema() -> xmlschema.XMLSchema:
    xsd = resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    with resources.as_file(xsd) as path:
        return xmlschema.XMLSchema(str(path))


async def _batch(world: World, name: str = "阳光文具店", currency: str = "CNY",
                 prices: tuple[int, ...] = (10000, 5000, 2050)) -> tuple[Shop, dict[str, Any]]:
    shop = await world.shop(name)
    program = await world.program(partners=[shop], currency=currency, name="助学券 Study")
    vouchers = await world.issue(program, len(prices))
    for voucher, price in zip(vouchers, prices, strict=True):
        await redeem(world, shop, voucher, ("stationery", 1, price), currency=currency)
    (batch,) = (await settle(world, merchant_id=shop.merchant_id))["batches"]
    return shop, batch


async def _download(world: World, batch_id: str, fmt: str, status: int = 200,
                    query: str = "", headers: dict[str, str] | None = None
                    ) -> tuple[bytes, Any]:
    resp = await world.client.get(f"/v1/settlements/{batch_id}/export/{fmt}{query}",
                                  headers={**ADMIN, **(headers or {})})
    raw = await resp.read()
    assert resp.status == status, raw[:500]
    return raw, resp


async def _exports(world: World, batch_id: str) -> list[dict[str, Any]]:
    resp = await world.client.get(f"/v1/settlements/{batch_id}", headers=ADMIN)
    return list((await resp.json())["exports"])


async def test_csv_opens_in_excel_with_chinese_names(world: World) -> None:
    _, batch = await _batch(world)
    raw, resp = await _download(world, batch["id"], "csv")
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="settlement-{batch["id"]}.csv"')
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    assert b"\r\n" in raw
    rows = csv_rows(raw)
    assert len(rows) == 3
    assert {r["merchant_name"] for r in rows} == {"阳光文具店"}
    assert {r["program_name"] for r in rows} == {"助学券 Study"}
    assert sorted(r["amount"] for r in rows) == ["100.00", "20.50", "50.00"]
    assert sum(int(r["amount_minor"]) for r in rows) == batch["total"] == 17050
    assert {r["kind"] for r in rows} == {"消费"}, "a line's kind in words, not its code"
    assert all(r["occurred_at"].endswith("+08:00") for r in rows)

    (export,) = await _exports(world, batch["id"])
    assert export["sha256"] == hashlib.sha256(raw).hexdigest()
    assert (export["format"], export["bytes"], export["times"]) == ("csv", len(raw), 1)

    again, _ = await _download(world, batch["id"], "csv")
    assert again == raw, "an export is deterministic, so both holders can compare digests"
    (export,) = await _exports(world, batch["id"])
    assert export["times"] == 2


async def test_csv_header_is_in_the_readers_language(world: World) -> None:
    _, batch = await _batch(world, prices=(10000, 2050))
    chinese, _ = await _download(world, batch["id"], "csv")
    english, resp = await _download(world, batch["id"], "csv", query="?lang=en")
    assert resp.headers["Content-Type"].startswith("text/csv")
    asked, _ = await _download(world, batch["id"], "csv",
                               headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert asked == english
    # The query says what the file is, whatever the browser's header says.
    named, _ = await _download(world, batch["id"], "csv", query="?lang=zh-CN",
                               headers={"Accept-Language": "en"})
    assert named == chinese

    assert chinese.startswith(b"\xef\xbb\xbf") and english.startswith(b"\xef\xbb\xbf")
    rows = csv_rows(chinese)
    # Only the words a person reads depend on the language: the header row and the kinds.
    assert csv_rows(english, CSV_COLUMNS) == [{**r, "kind": "Redemption"} for r in rows]
    assert {r["kind"] for r in rows} == {"消费"}
    assert chinese.split(b"\r\n", 1)[1].replace("消费".encode(), b"Redemption") == \
        english.split(b"\r\n", 1)[1]
    assert [(r["amount"], r["amount_minor"]) for r in rows] == [("100.00", "10000"),
                                                                 ("20.50", "2050")]
    assert {(r["batch_id"], r["merchant_name"], r["currency"], r["program_name"])
            for r in rows} == {(batch["id"], "阳光文具店", "CNY", "助学券 Study")}
    for row in rows:
        at = datetime.fromisoformat(row["occurred_at"])
        assert at.utcoffset() == timedelta(hours=8) and at.microsecond == 0

    # Each file's digest is recorded, and says which file it is.
    exports = {e["format"]: e for e in await _exports(world, batch["id"])}
    assert (exports["csv"]["sha256"], exports["csv"]["times"]) == (
        hashlib.sha256(chinese).hexdigest(), 2)
    assert (exports["csv:en"]["sha256"], exports["csv:en"]["times"]) == (
        hashlib.sha256(english).hexdigest(), 2)

    # Machine formats do not change with the reader's language.
    json_zh, _ = await _download(world, batch["id"], "json")
    json_en, _ = await _download(world, batch["id"], "json", query="?lang=en")
    assert json_zh == json_en
    assert "json:en" not in {e["format"] for e in await _exports(world, batch["id"])}

    resp = await world.client.get(f"/v1/settlements/{batch['id']}/export/csv?lang=fr",
                                  headers=ADMIN)
    problem = await resp.json()
    assert (resp.status, resp.content_type, problem["code"]) == (
        422, "application/problem+json", "validation_error")


async def test_csv_defuses_formulas(world: World) -> None:
    _, batch = await _batch(world, name="=HYPERLINK(\"x\")", prices=(100,))
    raw, _ = await _download(world, batch["id"], "csv")
    (row,) = csv_rows(raw)
    assert row["merchant_name"] == "'=HYPERLINK(\"x\")"


async def test_csv_quotes_program_names_whatever_they_hold(world: World) -> None:
    shop = await world.shop("多项目商店")
    names = ('Books, "new"', "午餐\n券", "-Study", "Plain")
    for name in names:
        program = await world.program(partners=[shop], name=name)
        (voucher,) = await world.issue(program)
        await redeem(world, shop, voucher, ("stationery", 1, 1000))
    (batch,) = (await settle(world, merchant_id=shop.merchant_id))["batches"]
    for query, header in (("", CSV_HEADER_ZH), ("?lang=en", CSV_COLUMNS)):
        raw, _ = await _download(world, batch["id"], "csv", query=query)
        rows = csv_rows(raw, header)
        assert [r["program_name"] for r in rows] == [
            'Books, "new"', "午餐\n券", "'-Study", "Plain"]
        assert {r["merchant_name"] for r in rows} == {"多项目商店"}
        assert raw.count(b"\r\n") == 5, "CRLF ends rows; a line break inside a name stays"


async def test_csv_shows_adjustments_as_negative_lines(world: World) -> None:
    shop, _ = await _batch(world, prices=(3000, 4000))
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    late = await redeem(world, shop, voucher, ("food", 1, 9000))
    (batch2,) = (await settle(world, merchant_id=shop.merchant_id))["batches"]
    await void(world, shop, late["id"])
    (batch3,) = (await settle(world, merchant_id=shop.merchant_id))["batches"]
    raw, _ = await _download(world, batch3["id"], "csv")
    (row,) = csv_rows(raw)
    assert (row["kind"], row["amount"], row["amount_minor"], row["redemption_id"]) == (
        "调整（结算后撤销）", "-90.00", "-9000", late["id"])  # noqa: RUF001
    english, _ = await _download(world, batch3["id"], "csv", query="?lang=en")
    (row,) = csv_rows(english, CSV_COLUMNS)
    assert row["kind"] == "Adjustment (voided after settlement)"
    # Each file's digest is of the bytes sent, words included.
    recorded = {(e["format"], e["sha256"]) for e in await _exports(world, batch3["id"])}
    assert recorded == {("csv", hashlib.sha256(raw).hexdigest()),
                        ("csv:en", hashlib.sha256(english).hexdigest())}
    # The JSON export is for machines: it keeps the codes.
    data, _ = await _download(world, batch3["id"], "json", query="?lang=en")
    assert [line["kind"] for line in json.loads(data)["lines"]] == ["adjustment"]
    (earlier,) = [line for line in json.loads((await _download(
        world, batch2["id"], "json"))[0])["lines"] if line["redemption_id"] == late["id"]]
    assert earlier["kind"] == "redemption"
    assert batch2["total"] == 9000


async def test_json_export(world: World) -> None:
    shop, batch = await _batch(world)
    await set_payee(world, shop, account_name="阳光文具店", account_id="6222020200112233445",
                    agent_id="102100099996")
    raw, resp = await _download(world, batch["id"], "json")
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = json.loads(raw)
    assert (doc["id"], doc["merchant_name"], doc["currency"]) == (batch["id"], "阳光文具店",
                                                                  "CNY")
    assert doc["payee"]["agent_id"] == "102100099996"
    assert len(doc["lines"]) == 3
    assert all(isinstance(line["amount"], int) for line in doc["lines"])
    assert sum(line["amount"] for line in doc["lines"]) == doc["totals"]["total"] == 17050
    assert doc["totals"] == {"line_count": 3, "redemption_total": 17050,
                             "adjustment_total": 0, "total": 17050}
    (export,) = await _exports(world, batch["id"])
    assert export["sha256"] == hashlib.sha256(raw).hexdigest()


def _parse(raw: bytes) -> ET.Element:
    return ET.fromstring(raw)  # noqa: S314 - our own export, just validated by the XSD


def _text(root: ET.Element, path: str) -> str:
    found = root.find(path, NS)
    assert found is not None and found.text is not None, path
    return found.text


async def test_pain001_is_valid_against_the_official_schema(
    world: World, pain001_schema: xmlschema.XMLSchema
) -> None:
    shop, batch = await _batch(world)
    await set_payee(world, shop, account_name="阳光文具店 & Co <Ltd>",
                    account_id="6222020200112233445", agent_id="102100099996")
    await act(world, batch["id"], "approve")
    raw, resp = await _download(world, batch["id"], "pain001")
    assert resp.headers["Content-Type"].startswith("application/xml")
    pain001_schema.validate(raw.decode("utf-8"))
    english, _ = await _download(world, batch["id"], "pain001", query="?lang=en")
    assert english == raw, "a bank's file is the same whatever the reader's language"

    root = _parse(raw)
    assert root.tag == "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.09}Document"
    group = "p:CstmrCdtTrfInitn/p:GrpHdr"
    info = "p:CstmrCdtTrfInitn/p:PmtInf"
    tx = f"{info}/p:CdtTrfTxInf"
    assert (_text(root, f"{group}/p:NbOfTxs"), _text(root, f"{group}/p:CtrlSum")) == (
        "1", "170.50")
    assert (_text(root, f"{info}/p:NbOfTxs"), _text(root, f"{info}/p:CtrlSum")) == (
        "1", "170.50")
    assert len(root.findall(tx, NS)) == 1, "one payment per merchant"
    amount = root.find(f"{tx}/p:Amt/p:InstdAmt", NS)
    assert amount is not None and (amount.text, amount.get("Ccy")) == ("170.50", "CNY")
    assert _text(root, f"{tx}/p:Cdtr/p:Nm") == "阳光文具店 & Co <Ltd>"
    assert _text(root, f"{tx}/p:CdtrAcct/p:Id/p:Othr/p:Id") == "6222020200112233445"
    assert _text(root, f"{tx}/p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId") == "102100099996"
    assert _text(root, f"{info}/p:DbtrAcct/p:Id/p:IBAN") == DEBTOR_IBAN
    assert _text(root, f"{info}/p:DbtrAgt/p:FinInstnId/p:BICFI") == "COBADEFFXXX"
    assert _text(root, f"{info}/p:Dbtr/p:Nm") == "温暖基金会 Warmth Foundation"
    msg_id = _text(root, f"{group}/p:MsgId")
    assert len(msg_id) <= 35

    # Control sum equals the sum of the payments' amounts, exactly.
    amounts = [Decimal(a.text or "") for a in root.iterfind(f"{tx}/p:Amt/p:InstdAmt", NS)]
    assert sum(amounts) == Decimal(_text(root, f"{group}/p:CtrlSum"))

    # Another merchant's batch gets another message id; the same batch keeps its own.
    shop2, batch2 = await _batch(world, name="Bookshop", prices=(999,))
    await set_payee(world, shop2, account_id="DE02120300000000202051",
                    agent_bic="BYLADEM1001")
    await act(world, batch2["id"], "approve")
    raw2, _ = await _download(world, batch2["id"], "pain001")
    pain001_schema.validate(raw2.decode("utf-8"))
    root2 = _parse(raw2)
    assert _text(root2, f"{group}/p:MsgId") != msg_id
    assert _text(root2, f"{tx}/p:CdtrAcct/p:Id/p:IBAN") == "DE02120300000000202051"
    assert _text(root2, f"{tx}/p:CdtrAgt/p:FinInstnId/p:BICFI") == "BYLADEM1001"
    assert _text(root2, f"{tx}/p:Amt/p:InstdAmt") == "9.99"
    raw_again, _ = await _download(world, batch["id"], "pain001")
    assert raw_again == raw

    # A new attempt after a failed payment is a new message.
    await act(world, batch["id"], "failed", reason="rejected by the bank")
    await act(world, batch["id"], "approve")
    retry, _ = await _download(world, batch["id"], "pain001")
    pain001_schema.validate(retry.decode("utf-8"))
    assert _text(_parse(retry), f"{group}/p:MsgId") != msg_id
    digests = {e["sha256"] for e in await _exports(world, batch["id"])}
    assert digests == {hashlib.sha256(raw).hexdigest(), hashlib.sha256(retry).hexdigest()}


async def test_pain001_uses_the_currencys_decimals(
    world: World, pain001_schema: xmlschema.XMLSchema
) -> None:
    shop, batch = await _batch(world, currency="JPY", prices=(1200, 34))
    await set_payee(world, shop, account_id="1234567")
    await act(world, batch["id"], "approve")
    raw, _ = await _download(world, batch["id"], "pain001")
    pain001_schema.validate(raw.decode("utf-8"))
    root = _parse(raw)
    amount = root.find("p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)
    assert amount is not None and (amount.text, amount.get("Ccy")) == ("1234", "JPY")
    assert _text(root, "p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum") == "1234"


async def test_export_refusals_are_problems(world: World) -> None:
    _, batch = await _batch(world)
    cases = [
        (f"/v1/settlements/{batch['id']}/export/pain001", 409, "export_refused",
         "付款文件只为已批准的批次生成"),
        (f"/v1/settlements/{batch['id']}/export/xlsx", 404, "unknown_format", "xlsx"),
        ("/v1/settlements/00000000-0000-0000-0000-000000000000/export/csv", 404, "not_found",
         "结算批次"),  # in Chinese: the request names no language
    ]
    for path, status, code, words in cases:
        resp = await world.client.get(path, headers=ADMIN)
        data = await resp.json()
        assert (resp.status, data["code"]) == (status, code), data
        assert resp.content_type == "application/problem+json"
        assert words in data["detail"]
    await act(world, batch["id"], "approve")
    resp = await world.client.get(f"/v1/settlements/{batch['id']}/export/pain001",
                                  headers=ADMIN)
    data = await resp.json()
    assert (resp.status, data["code"]) == (409, "export_refused")
    # The plugin's own refusal, in the reader's language: Chinese unless English is asked.
    assert "没有收款账户" in data["detail"] and "payout" not in data["detail"]
    resp = await world.client.get(f"/v1/settlements/{batch['id']}/export/pain001",
                                  headers={**ADMIN, "Accept-Language": "en"})
    data = await resp.json()
    assert (resp.status, data["code"]) == (409, "export_refused")
    assert "has no payout account" in data["detail"]
    resp = await world.client.get(f"/v1/settlements/{batch['id']}/export/csv")
    assert resp.status == 401
    assert await _exports(world, batch["id"]) == []


async def test_pain001_refuses_without_a_paying_account(
    world: World, database_url: str, tmp_path: Path, aiohttp_client: Any
) -> None:
    from pos.api.app import create_app

    shop, batch = await _batch(world)
    await set_payee(world, shop)
    await act(world, batch["id"], "approve")
    bare = await aiohttp_client(create_app(make_config(database_url, tmp_path / "d2")))
    resp = await bare.get(f"/v1/settlements/{batch['id']}/export/pain001", headers=ADMIN)
    data = await resp.json()
    assert (resp.status, data["code"]) == (409, "export_refused")
    assert "debtor_account" in data["detail"]
    await bare.close()


async def test_a_large_batch_streams_in_chunks(world: World,
                                               db: asyncpg.Connection[Any]) -> None:
    shop = await world.shop("批量商店")
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    await insert_synthetic_redemptions(db, shop=shop, program_id=program,
                                       voucher_id=voucher["id"], count=30_000)
    (batch,) = (await settle(world))["batches"]
    assert batch["line_count"] == 30_000
    resp = await world.client.get(f"/v1/settlements/{batch['id']}/export/csv", headers=ADMIN)
    assert resp.headers.get("Transfer-Encoding") == "chunked"
    digest, size, rows, pieces, last = hashlib.sha256(), 0, 0, 0, b""
    async for piece in resp.content.iter_any():
        digest.update(piece)
        size += len(piece)
        rows += (last + piece).count(b"\r\n")  # a piece may end between CR and LF
        pieces, last = pieces + 1, piece[-1:]
    assert rows == 30_001 and pieces > 1
    (export,) = await _exports(world, batch["id"])
    assert (export["sha256"], export["bytes"]) == (digest.hexdigest(), size)

    resp = await world.client.get(f"/v1/settlements/{batch['id']}/export/json", headers=ADMIN)
    doc = json.loads(await resp.read())
    assert len(doc["lines"]) == 30_000
    assert sum(line["amount"] for line in doc["lines"]) == batch["total"]


async def test_formats_are_listed(world: World) -> None:
    resp = await world.client.get("/v1/settlement-formats", headers=ADMIN)
    formats = {f["name"]: f for f in (await resp.json())["formats"]}
    assert {"csv", "json", "pain001"} <= set(formats)
    assert formats["pain001"]["plugin"] == "export_pain001"
    assert (formats["csv"]["languages"], formats["json"]["languages"]) == (["zh-CN", "en"], [])


async def test_a_whole_run_as_one_pain001_file(
    world: World, pain001_schema: xmlschema.XMLSchema
) -> None:
    from tests.settlement_support import now

    shops = {}
    for name, currency, prices in (("阳光文具店", "CNY", (10000, 7050)),
                                   ("Bookshop", "CNY", (999,)),
                                   ("東京書店", "JPY", (1200, 34)),
                                   ("Not approved yet", "CNY", (500,))):
        shop = await world.shop(name)
        program = await world.program(partners=[shop], currency=currency)
        for voucher, price in zip(await world.issue(program, len(prices)), prices,
                                  strict=True):
            await redeem(world, shop, voucher, ("stationery", 1, price), currency=currency)
        shops[name] = shop
    run = await settle(world, period_end=now())
    batches = {b["merchant_name"]: b for b in run["batches"]}
    for name in ("阳光文具店", "Bookshop", "東京書店"):
        await act(world, batches[name]["id"], "approve")
    await set_payee(world, shops["阳光文具店"], account_name="阳光文具店")
    await set_payee(world, shops["Bookshop"], account_id="DE02120300000000202051",
                    agent_bic="BYLADEM1001")

    path = f"/v1/settlement-runs/{run['run_id']}/export/pain001"
    resp = await world.client.get(path, headers=ADMIN)
    refused = await resp.json()
    assert (resp.status, refused["code"]) == (409, "export_refused")
    assert "商户「東京書店」没有收款账户" in refused["detail"]
    await set_payee(world, shops["東京書店"], account_id="1234567")

    resp = await world.client.get(path, headers=ADMIN)
    raw = await resp.read()
    assert resp.status == 200, raw
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="settlement-run-{run["run_id"]}.xml"')
    pain001_schema.validate(raw.decode("utf-8"))
    root = _parse(raw)
    group = "p:CstmrCdtTrfInitn/p:GrpHdr"
    assert (_text(root, f"{group}/p:NbOfTxs"), _text(root, f"{group}/p:CtrlSum")) == (
        "3", "1414.49")  # 170.50 + 9.99 CNY and 1234 JPY: one payment per merchant
    msg_id = _text(root, f"{group}/p:MsgId")
    assert msg_id.startswith("R") and len(msg_id) == 35
    blocks = root.findall("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    summary = []
    for block in blocks:
        amounts = block.findall("p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)
        assert sum(Decimal(a.text or "") for a in amounts) == Decimal(
            _text(block, "p:CtrlSum"))
        assert _text(block, "p:NbOfTxs") == str(len(amounts))
        summary.append(sorted((a.get("Ccy"), a.text) for a in amounts))
    assert summary == [[("CNY", "170.50"), ("CNY", "9.99")], [("JPY", "1234")]]
    names = [n.text for n in root.iterfind(".//p:CdtTrfTxInf/p:Cdtr/p:Nm", NS)]
    assert sorted(n or "" for n in names) == sorted(["阳光文具店", "Shop account",
                                                     "Shop account"])

    sha = hashlib.sha256(raw).hexdigest()
    for name in ("阳光文具店", "Bookshop", "東京書店"):
        recorded = await _exports(world, batches[name]["id"])
        assert [(e["format"], e["sha256"]) for e in recorded] == [("pain001:run", sha)]
    assert await _exports(world, batches["Not approved yet"]["id"]) == []
    again = await world.client.get(path, headers=ADMIN)
    assert await again.read() == raw

    resp = await world.client.get(f"/v1/settlement-runs/{run['run_id']}/export/csv",
                                  headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (409, "export_refused")
    resp = await world.client.get(
        "/v1/settlement-runs/00000000-0000-0000-0000-000000000000/export/pain001",
        headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (404, "not_found")
