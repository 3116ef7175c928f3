"""The till app in a real browser: a volunteer pays for three children at once. Three
vouchers are scanned into one sale (each removable), the split is shown, the sale is
confirmed once, and the receipt lists each voucher's exact part. Screenshots land in
test-artifacts/till/<language>/ as 12-... to 15-...
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.fixtures import browser, open_till, playwright  # noqa: F401 - fixtures
from tests.browser.harness import screenshot
from tests.conftest import World
from tests.test_till_app_browser import add_line, set_paired

TEXT = {
    "zh-CN": {"scan_next": "扫描下一张券", "already": "这张券已经扫过了。", "accepted": "收券成功",
              "voided": "已撤销", "v": "第 {n} 张券", "balance": "余额"},
    "en": {"scan_next": "Scan the next voucher", "already": "This voucher was already scanned.",
           "accepted": "Voucher accepted", "voided": "Voided", "v": "Voucher {n}",
           "balance": "Balance"},
}


async def scan(page: Page, text: str) -> None:
    """What a keyboard-like scanner does: type the voucher's text and Enter."""
    await page.fill("#voucher-input", text)
    await page.press("#voucher-input", "Enter")
    await expect(page.locator("#screen-basket")).to_be_visible()


async def figures(database_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        return {
            "sales": await conn.fetchval("SELECT count(*) FROM sales"),
            "parts": [tuple(r) for r in await conn.fetch(
                "SELECT voucher_id::text, covered, status FROM redemptions ORDER BY covered "
                "DESC, voucher_id")],
        }
    finally:
        await conn.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_three_childrens_vouchers_one_basket_one_confirmation(
    browser: Browser, world: World, database_url: str, lang: str  # noqa: F811
) -> None:
    words = TEXT[lang]
    shop = await world.shop("乡镇文具店 Township Stationery")
    program = await world.program(
        name="心愿券 Wish voucher", restrictions=["categories"], face_value=30000,
        per_visit_cap=10000,
        rule_settings={"categories": {"allowed": ["stationery", "books"]}}, partners=[shop])
    first, second, third = await world.issue(program, 3)
    async with open_till(browser, world.client, lang) as till:
        page = till.page
        await set_paired(page, world, shop.secret, shop.till_id, shop.merchant_id)
        # The first child's voucher by its manual code; a 250.00 basket of stationery.
        await scan(page, first["code"])
        await add_line(page, "stationery", "150", 1, "School bag 书包")
        await add_line(page, "stationery", "50", 2, "Pencil case 笔袋")
        covered = page.locator("#summary dd.covered")
        await expect(covered).to_have_text("¥100.00")
        await expect(page.locator("#summary dd.remainder")).to_have_text("¥150.00")

        # Two more children's vouchers, read as QR codes, into the same sale.
        for voucher in (second, third):
            await page.click("#add-voucher")
            await expect(page.locator("#scan-title")).to_have_text(words["scan_next"])
            await expect(page.locator("#back-to-basket")).to_be_visible()
            await scan(page, voucher["token"])
        # The same voucher again is not added twice.
        await page.click("#add-voucher")
        await scan(page, second["token"])
        await expect(page.locator("#notice")).to_have_text(words["already"])
        items = page.locator("#voucher-card .voucher-item")
        await expect(items).to_have_count(3)

        # The split: 100 + 100 + 50 pays the 250.00 basket exactly.
        await expect(covered).to_have_text("¥250.00")
        await expect(page.locator("#summary dd.remainder")).to_have_text("¥0.00")
        for n, part in ((1, "¥100.00"), (2, "¥100.00"), (3, "¥50.00")):
            await expect(page.locator(f"#voucher-card [data-voucher='{n}'] .voucher-part")
                         ).to_contain_text(part)
        v = words["v"]
        await expect(page.locator("#lines li[data-line='1'] .line-parts")).to_have_text(
            f"{v.format(n=1)} ¥100.00 · {v.format(n=2)} ¥50.00")
        await expect(page.locator("#lines li[data-line='2'] .line-parts")).to_have_text(
            f"{v.format(n=2)} ¥50.00 · {v.format(n=3)} ¥50.00")
        await screenshot(page, lang, "12-three-vouchers-basket")

        # Each voucher can be taken off the sale again: the split follows.
        await page.click("#voucher-card [data-voucher='3'] .remove-voucher")
        await expect(items).to_have_count(2)
        await expect(covered).to_have_text("¥200.00")
        await expect(page.locator("#summary dd.remainder")).to_have_text("¥50.00")
        await screenshot(page, lang, "13-voucher-removed", both=False)
        await page.click("#add-voucher")
        await scan(page, third["token"])
        await expect(covered).to_have_text("¥250.00")

        # One confirmation; the receipt lists each voucher's part and balance.
        await page.click("#confirm")
        receipt = page.locator("#receipt")
        await expect(receipt.locator("h2")).to_have_text(words["accepted"])
        await expect(receipt.locator(".receipt-row.covered")).to_contain_text("¥250.00")
        await expect(receipt.locator(".receipt-row.remainder")).to_contain_text("¥0.00")
        rows = receipt.locator(".receipt-row.voucher-part")
        await expect(rows).to_have_count(3)
        for n, part, left in ((1, "¥100.00", "¥200.00"), (2, "¥100.00", "¥200.00"),
                              (3, "¥50.00", "¥250.00")):
            row = receipt.locator(f".receipt-row.voucher-part[data-voucher='{n}']")
            await expect(row).to_contain_text(v.format(n=n))
            await expect(row).to_contain_text(f"{part} · {words['balance']} {left}")
        await screenshot(page, lang, "14-three-vouchers-receipt")
        taken = await figures(database_url)
        assert taken["sales"] == 1
        assert taken["parts"] == sorted(
            [(first["id"], 10000, "captured"), (second["id"], 10000, "captured"),
             (third["id"], 5000, "captured")], key=lambda p: (-p[1], p[0]))

        # Void gives every child's voucher its value back.
        await page.click("#void")
        await expect(page.locator("#void-body")).to_contain_text("¥250.00")
        await page.click("#void-yes")
        await expect(receipt.locator("h2")).to_have_text(words["voided"])
        await expect(receipt.locator(".receipt-row.restored")).to_contain_text("¥250.00")
        for n in (1, 2, 3):
            await expect(receipt.locator(f".receipt-row.voucher-part[data-voucher='{n}']")
                         ).to_contain_text(f"{words['balance']} ¥300.00")
        await screenshot(page, lang, "15-three-vouchers-voided")
        assert {p[2] for p in (await figures(database_url))["parts"]} == {"voided"}
        assert till.errors == []
    for voucher in (first, second, third):
        assert (await world.voucher(voucher["id"]))["balance"] == 30000
