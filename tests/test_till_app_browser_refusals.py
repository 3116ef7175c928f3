# ruff: noqa: RUF001
"""A refusal about the voucher never unpairs the till (in a real browser, against the real
service): a mistyped code is refused (422, never 401) in the till's language, the tablet
keeps its pairing and its basket, and the right code then sells normally. Only a 401 about
the till's own credential sends the cashier back to pairing."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.fixtures import (  # noqa: F401 - fixtures
    browser,
    open_till,
    pairing_code,
    playwright,
    wish_sale,
)
from tests.browser.harness import screenshot
from tests.conftest import World
from tests.test_till_app_browser import add_line, pair

WORDS = {
    "zh-CN": {"wrong_code": "券码格式不对，请核对是否输入正确。", "accepted": "收券成功",
              "sweets": "Candy 糖果：本券不支付糖果甜点。"},
    "en": {"wrong_code": "This code is not valid. Check it was typed correctly.",
           "accepted": "Voucher accepted",
           "sweets": "Candy 糖果: this voucher does not pay for sweets, chocolate and "
                     "desserts."},
}


def mistyped(code: str) -> str:
    """The code with its first symbol changed: the check symbol no longer fits."""
    return ("1" if code[0] != "1" else "2") + code[1:]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_wrong_code_keeps_the_pairing_and_the_next_sale_goes_through(
    browser: Browser, world: World, lang: str  # noqa: F811
) -> None:
    sale = await wish_sale(world)
    words = WORDS[lang]
    async with open_till(browser, world.client, lang) as till:
        page = till.page
        await pair(page, await pairing_code(world.client, sale.shop.till_id))
        paired = await page.evaluate("localStorage.getItem('pos.till')")

        # A typo in the manual code, then the basket: the voucher is refused, in the till's
        # language, and the tablet goes back to reading a voucher, still paired.
        await page.fill("#voucher-input", mistyped(sale.voucher["code"]))
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "stationery", "30", 1, "Pencils 铅笔")
        problem = page.locator("#screen-scan .problem")
        await expect(problem.locator(".problem-detail")).to_have_text(words["wrong_code"])
        await expect(problem).to_have_attribute("data-code", "invalid_token")
        await expect(page.locator("#screen-pair")).to_be_hidden()
        await expect(page.locator("#unpair")).to_be_visible()
        assert await page.evaluate("localStorage.getItem('pos.till')") == paired
        await screenshot(page, lang, "11-wrong-code-still-paired")

        # The right code: the basket was kept, the quote speaks the till's language, and
        # the sale goes through.
        await page.fill("#voucher-input", sale.voucher["code"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "sweets", "5", 1, "Candy 糖果")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥30.00")
        await expect(page.locator("#lines li[data-line='2'] .reason")).to_contain_text(
            words["sweets"])
        await screenshot(page, lang, "12-right-code-basket")
        await page.click("#confirm")
        receipt = page.locator("#receipt")
        await expect(receipt.locator("h2")).to_have_text(words["accepted"])
        await expect(receipt.locator(".receipt-row.covered")).to_contain_text("¥30.00")
        await screenshot(page, lang, "13-right-code-receipt")
        assert await page.evaluate("localStorage.getItem('pos.till')") == paired
        assert till.errors == []
