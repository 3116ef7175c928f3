"""A program with known redemptions, and every figure of its report: JSON, CSV, the page
for people (with its sign-in) and `pos report`."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from pos.api.app import create_app
from pos.config import Config
from pos.vouchers.lifecycle import expire
from tests.conftest import ADMIN, ADMIN_TOKEN, ENGLISH, World, make_config
from tests.settlement_support import pos_command, redeem, void

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def known(world: World, db: asyncpg.Connection[Any]) -> dict[str, Any]:
    """Four vouchers of 300.00 each (per-visit cap 100.00), two shops:

    r1  ben-01 at 阳光文具店: stationery 60.00 + sweets 10.00 (not covered) -> 60.00
    r2  ben-01 at 新华书店:   books 80.00 + stationery 40.00, capped       -> 100.00
    r3  ben-02 at 阳光文具店: food 2 x 15.00, forty days ago                -> 30.00
    r4  ben-03 at 新华书店:   books 25.00, then voided
    ben-04's voucher expires unused (300.00).
    """
    stationer = await world.shop("阳光文具店")
    bookshop = await world.shop("新华书店")
    program = await world.program(
        name="助学券 Study voucher", restrictions=["categories"], face_value=30000,
        per_visit_cap=10000, partners=[stationer, bookshop],
        rule_settings={"categories": {"allowed": ["stationery", "books", "food"]}})
    issued = await world.post(f"/v1/programs/{program}/vouchers", {"beneficiaries": [
        {"ref": f"ben-0{i}"} for i in (1, 2, 3, 4)]})
    v = {x["beneficiary_ref"]: x for x in issued["vouchers"]}
    r1 = await redeem(world, stationer, v["ben-01"], ("stationery", 1, 6000), ("sweets", 1, 1000))
    r2 = await redeem(world, bookshop, v["ben-01"], ("books", 1, 8000), ("stationery", 1, 4000))
    r3 = await redeem(world, stationer, v["ben-02"], ("food", 2, 1500))
    r4 = await redeem(world, bookshop, v["ben-03"], ("books", 1, 2500))
    await void(world, bookshop, r4["id"])
    assert [r["covered"] for r in (r1, r2, r3)] == [6000, 10000, 3000]
    await db.execute("UPDATE redemptions SET created_at = now() - interval '40 days' "
                     "WHERE id = $1", r3["id"])
    await db.execute("UPDATE credits SET valid_from = now() - interval '2 days', "
                     "valid_until = now() - interval '1 day' WHERE voucher_id = $1",
                     v["ben-04"]["id"])
    await expire(db)
    now = datetime.now(tz=ZONE)
    return {"program": program, "stationer": stationer, "bookshop": bookshop,
            "this_month": f"{now:%Y-%m}", "earlier_month": f"{now - timedelta(days=40):%Y-%m}"}


async def _report(world: World, program: str) -> dict[str, Any]:
    resp = await world.client.get(f"/v1/programs/{program}/report", headers=ADMIN)
    data: dict[str, Any] = await resp.json()
    assert resp.status == 200, data
    return data


async def test_every_figure(world: World, known: dict[str, Any]) -> None:
    report = await _report(world, known["program"])
    assert report["program"]["name"] == "助学券 Study voucher"
    assert (report["currency"], report["exponent"]) == ("CNY", 2)
    assert report["vouchers"] == {"issued": 4, "unused": 2}
    assert report["value"] == {"issued": 120000, "redeemed": 19000, "voided": 2500,
                               "expired": 30000, "remaining": 71000, "unaccounted": 0}
    # Baskets 70.00, 120.00 and 30.00: 73.33; covered 60 + 100 + 30 over 3: 63.33.
    assert report["redemptions"] == {"count": 3, "voided": 1, "average_basket": 7333,
                                     "average_covered": 6333}
    # r2's 100.00 splits over its eligible lines 80:40 -> 66.67 books, 33.33 stationery;
    # the cent left by rounding down goes to the larger remainder (books). Sweets were
    # never covered, so never counted.
    assert report["by_category"] == [
        {"category": "stationery", "redemptions": 2, "amount": 9333},
        {"category": "books", "redemptions": 1, "amount": 6667},
        {"category": "food", "redemptions": 1, "amount": 3000},
    ]
    assert sum(c["amount"] for c in report["by_category"]) == report["value"]["redeemed"]
    assert report["by_merchant"] == [
        {"merchant_id": known["bookshop"].merchant_id, "merchant_name": "新华书店",
         "redemptions": 1, "redeemed": 10000, "voids": 1, "voided": 2500},
        {"merchant_id": known["stationer"].merchant_id, "merchant_name": "阳光文具店",
         "redemptions": 2, "redeemed": 9000, "voids": 0, "voided": 0},
    ]
    assert report["by_month"] == [
        {"month": known["earlier_month"], "redemptions": 1, "redeemed": 3000, "voids": 0,
         "voided": 0},
        {"month": known["this_month"], "redemptions": 2, "redeemed": 16000, "voids": 1,
         "voided": 2500},
    ]
    assert report["unused_beneficiaries"] == {"count": 2, "refs": ["ben-03", "ben-04"],
                                              "truncated": False}


async def test_an_empty_program(world: World) -> None:
    program = await world.program()
    report = await _report(world, program)
    assert report["vouchers"] == {"issued": 0, "unused": 0}
    assert report["redemptions"]["average_basket"] == 0
    assert report["by_category"] == report["by_merchant"] == report["by_month"] == []


async def test_csv_downloads(world: World, known: dict[str, Any]) -> None:
    base = f"/v1/programs/{known['program']}/report"

    async def rows(section: str) -> list[dict[str, str]]:
        resp = await world.client.get(f"{base}/{section}.csv", headers=ADMIN)
        raw = await resp.read()
        assert resp.status == 200, raw
        assert resp.headers["Content-Type"].startswith("text/csv")
        assert raw.startswith(b"\xef\xbb\xbf")
        return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))

    summary = {r["figure"]: (r["value (CNY)"], r["minor_units"]) for r in await rows("summary")}
    assert summary["value_redeemed"] == ("190.00", "19000")
    assert summary["value_expired"] == ("300.00", "30000")
    assert summary["average_basket"] == ("73.33", "7333")
    assert summary["vouchers_issued"] == ("4", "")
    categories = await rows("categories")
    assert [(c["category"], c["amount (CNY)"]) for c in categories] == [
        ("stationery", "93.33"), ("books", "66.67"), ("food", "30.00")]
    merchants = await rows("merchants")
    assert [(m["merchant_name"], m["redeemed (CNY)"], m["voided_minor"]) for m in merchants] \
        == [("新华书店", "100.00", "2500"), ("阳光文具店", "90.00", "0")]
    months = await rows("months")
    assert [m["redeemed_minor"] for m in months] == ["3000", "16000"]
    assert [r["beneficiary_ref"] for r in await rows("unused")] == ["ben-03", "ben-04"]

    resp = await world.client.get(f"{base}/secrets.csv", headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (404, "not_found")
    resp = await world.client.get(f"{base}/summary.csv")
    assert (resp.status, (await resp.json())["code"]) == (401, "unauthorized")


async def test_the_page_for_people(world: World, known: dict[str, Any]) -> None:
    page_path = f"/reports/{known['program']}"
    html = {"Accept": "text/html"}
    resp = await world.client.get(page_path, headers=html, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == f"/reports/login?next={page_path}"
    resp = await world.client.get(page_path)
    assert (resp.status, (await resp.json())["code"]) == (401, "unauthorized")

    resp = await world.client.get(f"/reports/login?next={page_path}")
    assert resp.status == 200 and 'name="token"' in await resp.text()
    resp = await world.client.post("/reports/login", data={"token": "wrong", "next": page_path},
                                   allow_redirects=False)
    assert resp.status == 401 and "not right" in await resp.text()
    resp = await world.client.post("/reports/login",
                                   data={"token": ADMIN_TOKEN, "next": "https://evil.example/"},
                                   allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/reports/login"
    resp = await world.client.post("/reports/login",
                                   data={"token": ADMIN_TOKEN, "next": page_path},
                                   allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == page_path
    assert "HttpOnly" in resp.headers["Set-Cookie"]
    assert "SameSite=Strict" in resp.headers["Set-Cookie"]

    # The cookie jar now holds the session.
    resp = await world.client.get(page_path, headers=html)
    text = await resp.text()
    assert resp.status == 200, text
    assert resp.content_type == "text/html"
    assert text.count("<svg") == 3, "category, merchant and month charts"
    for shown in ("助学券 Study voucher", "阳光文具店", "新华书店", "190.00 CNY", "73.33 CNY",
                  "300.00 CNY", "ben-03", "ben-04", "stationery", "summary.csv"):
        assert shown in text, shown
    assert "<script" not in text
    resp = await world.client.get(f"/v1/programs/{known['program']}/report/merchants.csv")
    assert resp.status == 200, "the session also opens the CSV downloads"
    resp = await world.client.get("/v1/settlements")
    assert resp.status == 401, "but nothing else"


async def test_the_page_escapes_names(world: World) -> None:
    shop = await world.shop("<script>alert(1)</script>")
    program = await world.program(partners=[shop], name="<b>bold</b>")
    (voucher,) = await world.issue(program)
    await redeem(world, shop, voucher, ("food", 1, 500))
    resp = await world.client.get(f"/reports/{program}", headers=ADMIN)
    text = await resp.text()
    assert resp.status == 200
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "<b>bold</b>" not in text


async def test_report_refusals(world: World) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for path in (f"/v1/programs/{missing}/report", "/v1/programs/nope/report",
                 f"/reports/{missing}", f"/v1/programs/{missing}/report/summary.csv"):
        resp = await world.client.get(path, headers=ADMIN)
        assert (resp.status, (await resp.json())["code"]) == (404, "not_found"), path
        assert resp.content_type == "application/problem+json"
    resp = await world.client.post("/reports/login", json={"token": ADMIN_TOKEN})
    assert (resp.status, (await resp.json())["code"]) == (422, "validation_error")


async def test_pos_report_command(world: World, known: dict[str, Any], config: Config) -> None:
    # Chinese by default: headings, labels and each category by its name, never its code.
    done = await pos_command(config, "report", known["program"])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.split()[:3] == ["已使用金额", "190.00", "CNY"] for line in lines), lines
    assert "按品类" in done.stdout and "新华书店" in done.stdout
    by_category = {line.split()[0]: line.split()[1] for line in lines
                   if line.startswith("    ") and line.split()[0] in ("文具", "图书", "食品")}
    assert by_category == {"文具": "93.33", "图书": "66.67", "食品": "30.00"}, lines
    for code in ("stationery", "books", "food"):
        assert code not in done.stdout
    done = await pos_command(config, "report", known["program"], env=ENGLISH)
    assert done.returncode == 0, done.stderr
    assert "value redeemed" in done.stdout and "190.00 CNY" in done.stdout
    assert "by category" in done.stdout and "新华书店" in done.stdout
    done = await pos_command(config, "report", known["program"], "--csv", "categories")
    assert done.returncode == 0 and "stationery,2,93.33,9333" in done.stdout
    done = await pos_command(config, "report", "00000000-0000-0000-0000-000000000000",
                             env=ENGLISH)
    assert done.returncode == 1 and "error: No program was found" in done.stderr
    done = await pos_command(config, "report", "00000000-0000-0000-0000-000000000000")
    assert done.returncode == 1 and done.stderr == "错误：没有找到该项目。\n"  # noqa: RUF001


async def test_redeemed_value_without_lines_stays_visible(
    world: World, known: dict[str, Any], db: asyncpg.Connection[Any]
) -> None:
    # Lines lost (say, from an import of older data): the category split cannot place the
    # 30.00 of r3, so it shows as uncategorised instead of vanishing from the total.
    await db.execute("DELETE FROM redemption_lines WHERE category = 'food'")
    report = await _report(world, known["program"])
    assert report["by_category"][-1] == {"category": "uncategorised", "redemptions": None,
                                         "amount": 3000}
    assert sum(c["amount"] for c in report["by_category"]) == report["value"]["redeemed"]
    resp = await world.client.get(f"/v1/programs/{known['program']}/report/categories.csv",
                                  headers=ADMIN)
    assert "uncategorised,,30.00,3000" in (await resp.read()).decode("utf-8-sig")


async def test_sign_in_cookies_are_secure_behind_an_https_public_url(
        aiohttp_client: Any, database_url: str, tmp_path: Any) -> None:
    # Behind a proxy that ends TLS the service itself speaks plain HTTP: the public URL
    # says the browser is on HTTPS, and neither cookie may then travel without it.
    config = make_config(database_url, tmp_path / "data",
                         POS_SERVER_PUBLIC_URL="https://pos.example.org")
    client: TestClient[Any, Any] = await aiohttp_client(create_app(config))
    resp = await client.post("/reports/login", data={"token": ADMIN_TOKEN, "next": "/reports/x"},
                             allow_redirects=False)
    assert resp.status == 303
    report_cookie = resp.cookies["pos_reports"]
    assert report_cookie["secure"] and report_cookie["httponly"]
    made = await (await client.post("/v1/accounts", json={"login": "li.officer",
                                                          "role": "officer"},
                                    headers=ADMIN)).json()
    resp = await client.post("/admin/login", data={"login": "li.officer",
                                                   "password": made["one_time_password"]},
                             allow_redirects=False)
    assert resp.status == 303 and resp.cookies["pos_session"]["secure"]
    await client.close()
