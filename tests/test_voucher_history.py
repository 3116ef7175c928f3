# ruff: noqa: RUF001
"""What did this voucher buy, where, when: the officer's history route and the holder's
page (last uses, what it buys in plain words, "used X of Y", the next monthly amount, and
a used-up voucher that says so instead of showing a QR)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, expect

from tests.browser.fixtures import browser, playwright  # noqa: F401 - fixtures
from tests.browser.harness import ARTIFACTS
from tests.conftest import ADMIN, World, basket, new_key


async def _redeem(world: World, shop: Any, token: str, *lines: Any) -> dict[str, Any]:
    resp = await world.client.post("/v1/redemptions", json={
        "token": token, "basket": basket(*lines)}, headers=shop.headers(new_key()))
    data: dict[str, Any] = await resp.json()
    assert resp.status == 201, data
    return data


async def test_a_vouchers_redemptions_newest_first_with_shop_till_lines_and_status(
        world: World) -> None:
    stationer, canteen = await world.shop("乡镇文具店"), await world.shop("Canteen")
    program = await world.program(partners=[stationer, canteen], restrictions=["study"],
                                  face_value=30000)
    (voucher,) = await world.issue(program)
    first = await _redeem(world, stationer, voucher["token"], ("stationery", 2, 4500),
                          ("sweets", 1, 1000))
    second = await _redeem(world, canteen, voucher["token"], ("sports_goods", 1, 3000))
    resp = await world.client.post(f"/v1/redemptions/{second['id']}/void",
                                   headers=canteen.headers(new_key()))
    assert resp.status == 200

    resp = await world.client.get(f"/v1/vouchers/{voucher['id']}/redemptions", headers=ADMIN)
    history = await resp.json()
    assert resp.status == 200, history
    assert [r["id"] for r in history["redemptions"]] == [second["id"], first["id"]]
    latest, earliest = history["redemptions"]
    assert (latest["status"], latest["merchant_name"], latest["covered"]) == (
        "voided", "Canteen", 3000)
    assert latest["voided_at"] is not None
    assert (earliest["status"], earliest["merchant_id"], earliest["till_id"],
            earliest["till_name"]) == ("captured", stationer.merchant_id, stationer.till_id,
                                       "Till 1")
    assert (earliest["basket_total"], earliest["eligible_total"], earliest["covered"],
            earliest["remainder"], earliest["currency"]) == (10000, 9000, 9000, 1000, "CNY")
    assert [(line["category"], line["eligible"], line["rule"]) for line in earliest["lines"]] \
        == [("stationery", True, "study"), ("sweets", False, "study")]
    assert earliest["lines"][1]["reason"] == "sweets item：本学习用品券不支付糖果甜点。"
    assert earliest["created_at"] < latest["created_at"]

    limited = await (await world.client.get(
        f"/v1/vouchers/{voucher['id']}/redemptions?limit=1", headers=ADMIN)).json()
    assert [r["id"] for r in limited["redemptions"]] == [second["id"]]
    for bad in ("0", "501", "x", "-1"):
        resp = await world.client.get(f"/v1/vouchers/{voucher['id']}/redemptions?limit={bad}",
                                      headers=ADMIN)
        assert (resp.status, (await resp.json())["code"]) == (422, "validation_error")
    resp = await world.client.get(
        "/v1/vouchers/00000000-0000-0000-0000-000000000000/redemptions", headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (404, "not_found")
    # Admin only: a till reads its own redemptions, never a voucher's whole history.
    resp = await world.client.get(f"/v1/vouchers/{voucher['id']}/redemptions",
                                  headers=stationer.headers())
    assert resp.status == 403


async def test_the_holder_page_tells_what_was_bought_and_what_is_left(world: World) -> None:
    shop = await world.shop("乡镇文具店 Township Stationery")
    # The per-visit cap is per shop and day: the rest is spent at three other shops.
    others = [await world.shop(f"Shop {n}") for n in range(3)]
    program = await world.program(name="心愿券 Wish voucher", partners=[shop, *others],
                                  restrictions=["study"], face_value=30000,
                                  per_visit_cap=10000)
    (voucher,) = await world.issue(program)
    page = await (await world.client.get(f"/v/{voucher['code']}")).text()
    for shown in ("文具、书包、体育用品", "stationery, school bags, sports goods",
                  "不可购买：酒类、烟草", "已用 ¥0.00，共 ¥300.00", "尚未使用", "<svg"):
        assert shown in page, shown

    await _redeem(world, shop, voucher["token"], ("stationery", 1, 4550))
    page = await (await world.client.get(f"/v/{voucher['code']}")).text()
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # the program's day
    for shown in ("已用 ¥45.50，共 ¥300.00", "used ¥45.50 of ¥300.00", "最近使用",
                  "乡镇文具店 Township Stationery", "¥45.50", "<svg"):
        assert shown in page, shown
    assert f"<td>{today}</td>" in page

    for other in others:
        await _redeem(world, other, voucher["token"], ("stationery", 1, 10000))
    page = await (await world.client.get(f"/v/{voucher['code']}")).text()
    assert "此券已用完" in page and "used up" in page
    assert "<svg" not in page, "a spent voucher shows no QR to scan"
    assert "已用 ¥300.00，共 ¥300.00" in page


async def test_the_holder_page_of_sessions_and_of_a_monthly_allowance(world: World) -> None:
    shop = await world.shop("陶艺工作室")
    courses = await world.program(partners=[shop], restrictions=["any"], uses=8,
                                  unit_price=5000)
    (voucher,) = await world.issue(courses)
    await _redeem(world, shop, voucher["token"], ("courses", 1, 5000))
    page = await (await world.client.get(f"/v/{voucher['code']}")).text()
    assert "已用 1 次，共 8 次" in page and "used 1 of 8 sessions" in page

    today = date.today()
    monthly = await world.program(
        partners=[shop], restrictions=["nutrition"], face_value=0,
        valid_from=str(today - timedelta(days=1)), valid_until=str(today + timedelta(days=95)),
        allowance={"amount": 30000, "count": 3})
    (voucher,) = await world.issue(monthly)
    page = await (await world.client.get(f"/v/{voucher['code']}")).text()
    assert "每月 ¥300.00，下次发放：" in page and "¥300.00 a month; next on" in page


async def test_the_holder_page_on_a_phone(browser: Browser, world: World) -> None:  # noqa: F811
    """The page as a phone shows it, saved in test-artifacts/holder/ to look at."""
    shop = await world.shop("乡镇文具店 Township Stationery")
    # The per-visit cap is per shop and day: the rest is spent at three other shops.
    others = [await world.shop(f"Shop {n}") for n in range(3)]
    program = await world.program(name="心愿券 Wish voucher", partners=[shop, *others],
                                  restrictions=["study"], face_value=30000,
                                  per_visit_cap=10000)
    (voucher,) = await world.issue(program)
    await _redeem(world, shop, voucher["token"], ("stationery", 1, 4550))
    folder = ARTIFACTS.parent / "holder"
    folder.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    try:
        page = await context.new_page()
        await page.goto(str(world.client.make_url(f"/v/{voucher['code']}")))
        await expect(page.locator(".recent")).to_contain_text("乡镇文具店")
        await page.screenshot(path=str(folder / "active.png"), full_page=True)
        for other in others:
            await _redeem(world, other, voucher["token"], ("stationery", 1, 10000))
        await page.reload()
        await expect(page.locator(".notice")).to_contain_text("此券已用完")
        await page.screenshot(path=str(folder / "spent.png"), full_page=True)
    finally:
        await context.close()
