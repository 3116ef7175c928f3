# ruff: noqa: RUF001
"""A refusal about the voucher never unpairs the till (in a real browser, against the real
service): a mistyped code is refused (422, never 401) in the till's language, the tablet
keeps its pairing and its basket, and the right code then sells normally. Only a 401 about
the till's own credential sends the cashier back to pairing."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Route, expect

from pos import codes
from tests.browser.fixtures import (  # noqa: F401 - fixtures
    browser,
    open_till,
    pairing_code,
    playwright,
    wish_sale,
)
from tests.browser.harness import screenshot
from tests.conftest import World
from tests.test_api_contract import full_width
from tests.test_till_app_browser import add_line, pair

WORDS = {
    "zh-CN": {"wrong_code": "券码格式不对，请核对是否输入正确。", "accepted": "收券成功",
              "unknown_code": "没有与此券码对应的券，请核对是否输入正确。",
              "already_scanned": "这张券已经扫过了。",
              "unreadable": "服务的答复无法读取，请重试；如果一再出现，请联系项目方。",
              "sweets": "Candy 糖果：本券不支付糖果甜点。"},
    "en": {"wrong_code": "This code is not valid. Check it was typed correctly.",
           "unknown_code": "No voucher has this code. Check it was typed correctly.",
           "already_scanned": "This voucher was already scanned.",
           "unreadable": "The service's answer could not be read. Try again; if it keeps "
                         "happening, call the program's staff.",
           "accepted": "Voucher accepted",
           "sweets": "Candy 糖果: this voucher does not pay for sweets, chocolate and "
                     "desserts."},
}


def mistyped(code: str) -> str:
    """The code with its first symbol changed: the check symbol no longer fits."""
    return ("1" if code[0] != "1" else "2") + code[1:]


def nobodys_code() -> str:
    """A well-formed code (its check symbol fits) that names no voucher."""
    return codes.format_code("ZZZZZZZZZZZZ")


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

        # A well-formed code that is nobody's, then the basket: the voucher is refused by
        # the service, in the till's language, and the tablet goes back to reading a
        # voucher, still paired. (A typo the check symbol catches is refused at once:
        # the test below.)
        await page.fill("#voucher-input", nobodys_code())
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "stationery", "30", 1, "Pencils 铅笔")
        problem = page.locator("#screen-scan .problem")
        await expect(problem.locator(".problem-detail")).to_have_text(words["unknown_code"])
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


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_typo_in_the_code_is_caught_before_the_basket(
    browser: Browser, world: World, lang: str  # noqa: F811
) -> None:
    """A code whose check symbol does not fit is never shown as a voucher read: the cashier
    is told at once, on the scan screen, with what was typed left in the field to correct."""
    sale = await wish_sale(world)
    words = WORDS[lang]
    async with open_till(browser, world.client, lang) as till:
        page = till.page
        await pair(page, await pairing_code(world.client, sale.shop.till_id))
        quotes: list[str] = []
        page.on("request", lambda r: quotes.append(r.url) if "/v1/quotes" in r.url else None)

        typo = mistyped(sale.voucher["code"])
        await page.fill("#voucher-input", typo)
        await page.click("#voucher-form button[type=submit]")
        problem = page.locator("#screen-scan .problem")
        await expect(problem.locator(".problem-detail")).to_have_text(words["wrong_code"])
        await expect(problem).to_have_attribute("data-code", "invalid_token")
        await expect(page.locator("#screen-basket")).to_be_hidden()
        await expect(page.locator("#voucher-input")).to_have_value(typo)
        await screenshot(page, lang, "14-typo-caught-at-once")

        # Corrected in the same field (the input method left in full-width mode, as a
        # Chinese tablet's often is), the voucher is read and the sale goes on.
        await page.fill("#voucher-input", full_width(sale.voucher["code"].lower()))
        await page.click("#voucher-form button[type=submit]")
        await expect(page.locator("#screen-basket")).to_be_visible()
        await expect(problem).to_be_hidden()
        await add_line(page, "stationery", "30", 1, "Pencils 铅笔")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥30.00")
        assert len(quotes) == 1  # the typo never reached the service

        # The same card typed again another way is the same voucher, not a second one.
        await page.click("#add-voucher")
        await page.fill("#voucher-input", sale.voucher["code"].replace("-", " "))
        await page.click("#voucher-form button[type=submit]")
        await expect(page.locator("#notice")).to_have_text(words["already_scanned"])
        await expect(page.locator("#voucher-card .voucher-item")).to_have_count(1)
        assert till.errors == []


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_an_answer_that_is_not_the_services_is_said_in_the_tills_words(
    browser: Browser, world: World, lang: str  # noqa: F811
) -> None:
    """A refusal that is not problem+json (a proxy's page in front of the service, say)
    is told in the till's language, not as the status line's English ("Bad Request")."""
    sale = await wish_sale(world)
    async with open_till(browser, world.client, lang) as till:
        page = till.page
        await pair(page, await pairing_code(world.client, sale.shop.till_id))

        async def proxy_refuses(route: Route) -> None:
            await route.fulfill(status=413, content_type="text/html",
                                body="<html><body>413 Request Entity Too Large</body></html>")

        await page.route("**/v1/quotes", proxy_refuses)
        await page.fill("#voucher-input", sale.voucher["code"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "stationery", "30", 1, "Pencils 铅笔")
        problem = page.locator(".problem:visible")
        await expect(problem.locator(".problem-detail")).to_have_text(WORDS[lang]["unreadable"])
        await expect(problem).not_to_contain_text("Request Entity Too Large")
        await screenshot(page, lang, "15-answer-not-the-services")
