"""What the cashier meets offline beyond a scanned card, in a real browser (Debian's
Chromium through Playwright, the context set offline) against the real service and
PostgreSQL: a forwarded sale the service refuses is listed with why and what to do until
acknowledged; a typed manual code sells offline from the kit; a card reissued while the
till was online is refused offline once the till has reconnected. Screenshots in
test-artifacts/till/<lang>/.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.fixtures import (  # noqa: F401 - fixtures
    browser,
    open_till,
    pairing_code,
    playwright,
)
from tests.browser.harness import screenshot
from tests.conftest import ADMIN, World
from tests.test_till_app_browser import SHOP_ZONE, add_line, pair
from tests.test_till_offline_browser import (
    offline_rows,
    offline_sale,
    problem_code,
    read_voucher,
    ready_for_offline,
)

WORDS = {
    "zh-CN": {"title": "笔离线销售未被接受", "why": "平板的日期或时间可能不准",
              "todo": "请核对平板的日期和时间", "ack": "知道了", "header": "笔未被接受",
              "replaced": "这张券已补发新券", "unknown_code": "没有与此券码对应的券",
              "malformed": "券码格式不对", "voucher": "尾号"},
    "en": {"title": "Offline sales not accepted", "why": "the tablet's date or time may be wrong",
           "todo": "Check the tablet's date and time", "ack": "Got it", "header": "not accepted",
           "replaced": "This voucher was reissued", "unknown_code": "No voucher has this code",
           "malformed": "This code is not valid", "voucher": "ending"},
}
CJK = re.compile(r"[\u4e00-\u9fff]")


async def sell(page: Page, credential: str, price: str) -> None:
    """One offline sale of stationery, confirmed, and back to a new sale."""
    await read_voucher(page, credential)
    await add_line(page, "stationery", price, 1, "Notebook 笔记本")
    await expect(page.locator("#summary dd.covered")).to_have_text(f"¥{price}.00")
    await page.click("#confirm")
    await expect(page.locator("#receipt .offline-banner")).to_be_visible()
    await page.click("#new-sale")


async def kit_version(page: Page) -> int:
    return int(await page.evaluate(
        "() => JSON.parse(atob(localStorage.getItem('pos.offline-kit').split('.')[1]"
        ".replace(/-/g, '+').replace(/_/g, '/'))).version"))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_refused_forwarded_sale_stays_listed_until_the_cashier_acknowledges_it(
    browser: Browser, world: World, database_url: str, lang: str  # noqa: F811
) -> None:
    words = WORDS[lang]
    sale, vouchers = await offline_sale(world)
    # A tablet left on UTC: the refused sale's time is still read in the shop's zone.
    async with open_till(browser, world.client, lang, offline_app=True,
                         tablet_zone="UTC") as till:
        page = till.page
        await pair(page, await pairing_code(world.client, sale.shop.till_id))
        await ready_for_offline(page)
        await till.context.set_offline(True)

        await sell(page, vouchers[0]["token"], "30")
        sold = datetime.now(SHOP_ZONE) + timedelta(hours=2)  # by the fast clock below
        # The tablet's clock runs two hours fast for the next sale: the service cannot
        # place it within the kit's life and refuses it when it is forwarded.
        await page.evaluate("(() => { window.__realNow = Date.now; "
                            "Date.now = () => window.__realNow() + 2 * 3600 * 1000; })()")
        await sell(page, vouchers[1]["token"], "45")
        await page.evaluate("(() => { Date.now = window.__realNow; })()")
        status = page.locator("#net-status")
        await expect(status).to_have_attribute("data-waiting", "2")

        await till.context.set_offline(False)
        await page.evaluate("window.dispatchEvent(new Event('online'))")
        await expect(status).to_have_attribute("data-waiting", "0", timeout=20_000)
        panel = page.locator("#refused-sales")
        await expect(panel).to_be_visible()
        await expect(panel).to_have_attribute("data-count", "1")
        refused = panel.locator(".refused-sale")
        await expect(refused).to_have_count(1)
        await expect(refused).to_have_attribute("data-code", "offline_kit_expired")
        await expect(panel.locator("h2")).to_contain_text(words["title"])
        await expect(refused.locator(".refused-row.amount dd")).to_contain_text("¥45.00")
        shown = await refused.locator(".refused-row.time dd").text_content()
        assert shown is not None
        at = datetime.strptime(shown, "%Y-%m-%d %H:%M").replace(tzinfo=SHOP_ZONE)
        assert timedelta(minutes=-1) <= at - sold <= timedelta(minutes=2), (shown, sold)
        await expect(refused.locator(".refused-row.voucher dd")).to_contain_text(
            vouchers[1]["id"].replace("-", "")[-4:].upper())
        await expect(refused.locator(".refused-row.voucher dd")).to_contain_text(words["voucher"])
        await expect(refused.locator(".refused-why")).to_contain_text(words["why"])
        await expect(refused.locator(".refused-todo")).to_contain_text(words["todo"])
        await expect(status).to_contain_text(words["header"])
        text = await panel.inner_text()
        assert "offline_kit_expired" not in text and vouchers[1]["token"] not in text
        assert bool(CJK.search(await refused.locator(".refused-why").inner_text())) \
            == (lang == "zh-CN")
        await screenshot(page, lang, "30-offline-sale-refused")

        # The other language: the same sale, in its words.
        await page.click("#lang-switch")
        other = "en" if lang == "zh-CN" else "zh-CN"
        await expect(refused.locator(".refused-why")).to_contain_text(WORDS[other]["why"])
        await page.click("#lang-switch")

        # Only the accepted sale was booked; the refused one is kept on the tablet.
        rows = await offline_rows(database_url)
        assert [(r["voucher_id"], r["covered"]) for r in rows] == [(vouchers[0]["id"], 3000)]

        # It stays through a reload and a new sale, until acknowledged.
        await page.reload()
        await expect(page.locator("#refused-sales .refused-sale")).to_have_count(1)
        await read_voucher(page, vouchers[0]["token"])
        await expect(page.locator("#refused-sales .refused-sale")).to_have_count(1)
        await page.click("#cancel-sale")
        await page.click(f"#refused-sales .refused-ack >> text={words['ack']}")
        await expect(page.locator("#refused-sales")).to_be_hidden()
        await expect(status).not_to_contain_text(words["header"])
        kept = await page.evaluate("""async () => {
            const m = await import('/till/offline_store.js');
            return (await m.sales.all()).map((s) => [s.status, Boolean(s.acknowledged)]);
        }""")
        assert sorted(kept) == [["forwarded", False], ["refused", True]]
        await screenshot(page, lang, "31-offline-refusal-acknowledged")
        assert till.errors == []


async def test_only_the_service_s_own_refusal_counts_as_one(
    browser: Browser, world: World  # noqa: F811
) -> None:
    """An answer without a definite no (busy, a proxy's page, a cut-off body, rate limits)
    keeps the sale waiting to be sent again; it is never listed as refused."""
    problem = {"code": "offline_limit_exceeded", "status": 422, "detail": "x"}
    cases = [
        ({"status": 201, "body": {"id": "r1"}}, "forwarded"),
        ({"status": 422, "body": problem}, "refused"),
        ({"status": 403, "body": {"code": "http_error", "detail": "Forbidden"}}, "retry"),
        ({"status": 404, "body": {"code": "http_error", "detail": "Not Found"}}, "retry"),
        ({"status": 502, "body": {"code": "http_error"}}, "retry"),
        ({"status": 503, "body": {"code": "service_unavailable", "status": 503}}, "retry"),
        ({"status": 409, "body": {"code": "idempotency_in_progress", "status": 409}}, "retry"),
        ({"status": 429, "body": {"code": "rate_limited", "status": 429}}, "retry"),
        ({"status": 408, "body": {"code": "timeout", "status": 408}}, "retry"),
        ({"status": 422, "body": {"error": "not ours"}}, "retry"),
        ({"status": 200, "body": {"ok": True}}, "retry"),
    ]
    async with open_till(browser, world.client, "en") as till:
        got = await till.page.evaluate(
            """async (cases) => {
                 const m = await import('/till/offline.js');
                 return cases.map(([answer]) => m.forwardOutcome(answer));
               }""", cases)
    assert got == [want for _answer, want in cases]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_typed_code_sells_offline_from_the_kit(
    browser: Browser, world: World, database_url: str, lang: str  # noqa: F811
) -> None:
    words = WORDS[lang]
    sale, vouchers = await offline_sale(world)
    async with open_till(browser, world.client, lang, offline_app=True) as till:
        page = till.page
        await pair(page, await pairing_code(world.client, sale.shop.till_id))
        await ready_for_offline(page)
        kit = await page.evaluate("localStorage.getItem('pos.offline-kit')")
        assert vouchers[0]["code"] not in kit and vouchers[0]["code"].replace("-", "") not in kit
        await till.context.set_offline(True)

        # A code that is not well formed is refused as it is typed, offline as online; a
        # well-formed one no voucher has is refused from the kit.
        await page.fill("#voucher-input", "ABCD-EFGH")
        await page.click("#voucher-form button[type=submit]")
        scan_problem = page.locator("#screen-scan .problem")
        await expect(scan_problem).to_have_attribute("data-code", "invalid_token")
        await expect(scan_problem).to_contain_text(words["malformed"])
        await expect(page.locator("#screen-basket")).to_be_hidden()
        await read_voucher(page, "0000-0000-0000-0")
        await add_line(page, "stationery", "10", 1)
        assert await problem_code(page) == "invalid_token"
        await expect(page.locator("#screen-basket .problem")).to_contain_text(
            words["unknown_code"])
        await page.click("#cancel-sale")

        # The holder's code, typed as a cashier might: lower case, spaces for dashes.
        typed = vouchers[0]["code"].lower().replace("-", " ")
        await read_voucher(page, typed)
        await add_line(page, "stationery", "45", 1, "Notebook 笔记本")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥45.00")
        await expect(page.locator("#voucher-card .offline-banner")).to_be_visible()
        await screenshot(page, lang, "32-offline-typed-code")
        await page.click("#confirm")
        await expect(page.locator("#receipt .offline-banner")).to_be_visible()
        stored = await page.evaluate("""async () => {
            const m = await import('/till/offline_store.js');
            return (await m.sales.all()).map((s) => s.text);
        }""")
        assert len(stored) == 1 and '"code_hash"' in stored[0] and '"token"' not in stored[0]
        assert vouchers[0]["code"].replace("-", "")[:12] not in stored[0].upper()

        await till.context.set_offline(False)
        await page.evaluate("window.dispatchEvent(new Event('online'))")
        await expect(page.locator("#net-status")).to_have_attribute(
            "data-waiting", "0", timeout=20_000)
        await expect(page.locator("#refused-sales")).to_be_hidden()
        rows = await offline_rows(database_url)
        assert [(r["voucher_id"], r["covered"], r["offline"]) for r in rows] == [
            (vouchers[0]["id"], 4500, True)]
        assert till.errors == []


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_card_reissued_while_online_is_refused_offline_after_reconnecting(
    browser: Browser, world: World, lang: str  # noqa: F811
) -> None:
    words = WORDS[lang]
    sale, vouchers = await offline_sale(world)
    old: dict[str, Any] = vouchers[0]
    async with open_till(browser, world.client, lang, offline_app=True) as till:
        page = till.page
        await pair(page, await pairing_code(world.client, sale.shop.till_id))
        await ready_for_offline(page)
        first = await kit_version(page)

        # The holder lost the card; the program reissues it while the till is online.
        resp = await world.client.post(f"/v1/vouchers/{old['id']}/reissue", headers=ADMIN)
        assert resp.status == 200, await resp.text()
        new = await resp.json()

        # A short cut and the network is back: the till fetches a fresh kit at once.
        await till.context.set_offline(True)
        await page.evaluate("window.dispatchEvent(new Event('offline'))")
        await expect(page.locator("#net-status")).to_have_attribute("data-state", "offline")
        await till.context.set_offline(False)
        await page.evaluate("window.dispatchEvent(new Event('online'))")
        for _ in range(100):
            if await kit_version(page) > first:
                break
            await page.wait_for_timeout(100)
        assert await kit_version(page) > first

        await till.context.set_offline(True)
        for credential in (old["token"], old["code"]):
            await read_voucher(page, credential)
            await add_line(page, "stationery", "20", 1)
            assert await problem_code(page) == "voucher_revoked"
            await expect(page.locator("#screen-basket .problem")).to_contain_text(
                words["replaced"])
            await expect(page.locator("#confirm")).to_be_disabled()
            if credential == old["token"]:
                await screenshot(page, lang, "33-offline-reissued-old-card")
            await page.click("#cancel-sale")

        # The new card sells offline.
        await sell(page, new["token"], "20")
        await expect(page.locator("#net-status")).to_have_attribute("data-waiting", "1")
        assert till.errors == []
