"""The till through a network cut, in a real browser (Debian's Chromium through
Playwright, the context set offline) against the real service and PostgreSQL: sales made
offline survive a reload, are forwarded once when the network is back, and everything a
kit does not allow is refused on the tablet. Screenshots in test-artifacts/till/<lang>/.
"""

from __future__ import annotations

import random
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from pos.plugin.offline_rules import OfflineRule, decide_line
from pos.plugin.types import BasketLine
from tests.browser.fixtures import (  # noqa: F401 - fixtures
    Sale,
    browser,
    open_till,
    pairing_code,
    playwright,
)
from tests.browser.harness import screenshot
from tests.conftest import ADMIN, World
from tests.test_till_app_browser import add_line, pair

LIMITS = {"max_per_sale": 5000, "max_till_total": 20000, "max_offline_seconds": 86400}
STATUS = {"zh-CN": {"offline": "离线", "waiting": "{n} 笔待上传", "online": "在线",
                    "receipt": "离线销售"},
          "en": {"offline": "Offline", "waiting": "{n} waiting", "online": "Online",
                 "receipt": "Offline sale"}}


async def offline_sale(world: World, vouchers: int = 2, **limits: int) -> tuple[Sale, list[Any]]:
    shop = await world.shop("乡镇文具店 Township Stationery")
    program = await world.program(
        name="心愿券 Wish voucher", restrictions=["categories"], face_value=30000,
        per_visit_cap=10000,
        rule_settings={"categories": {"allowed": ["stationery", "books"]}}, partners=[shop])
    resp = await world.client.put(f"/v1/programs/{program}/offline-limits",
                                  json={**LIMITS, **limits}, headers=ADMIN)
    assert resp.status == 200, await resp.text()
    issued = await world.issue(program, vouchers)
    return Sale(shop, program, issued[0]), issued


async def ready_for_offline(page: Page) -> None:
    """Paired: the service worker controls the page and a checked kit is kept."""
    # Polled from here: the page's Content-Security-Policy forbids the eval that
    # wait_for_function would use.
    for _ in range(100):
        if await page.evaluate("() => navigator.serviceWorker.controller !== null "
                               "&& localStorage.getItem('pos.offline-kit') !== null"):
            return
        await page.wait_for_timeout(100)
    raise AssertionError("the till did not get ready for offline use")


async def read_voucher(page: Page, token: str) -> None:
    await page.fill("#voucher-input", token)
    await page.click("#voucher-form button[type=submit]")
    await expect(page.locator("#screen-basket")).to_be_visible()


async def offline_rows(database_url: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT r.voucher_id::text, r.covered, r.offline, r.shortfall, i.key "
            "FROM redemptions r LEFT JOIN idempotency_keys i "
            "ON i.response_body->>'id' = r.id::text ORDER BY r.created_at")
    finally:
        await conn.close()
    return [dict(r) for r in rows]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_two_sales_offline_a_reload_then_each_forwarded_once(
    browser: Browser, world: World, database_url: str, lang: str  # noqa: F811
) -> None:
    sale, vouchers = await offline_sale(world)
    words = STATUS[lang]
    async with open_till(browser, world.client, lang, offline_app=True) as till:
        page = till.page
        await pair(page, await pairing_code(world.client, sale.shop.till_id))
        await ready_for_offline(page)
        status = page.locator("#net-status")
        await expect(status).to_contain_text(words["online"])

        # Sale 1: 45 of stationery, quoted online; then the network drops before the
        # cashier confirms, and the open basket is quoted again offline by itself.
        await read_voucher(page, vouchers[0]["token"])
        await add_line(page, "stationery", "45", 1, "Notebook 笔记本")
        await expect(page.locator("#voucher-card")).to_contain_text("¥300.00")  # online balance
        await till.context.set_offline(True)
        await expect(page.locator("#voucher-card .offline-banner")).to_be_visible()
        await expect(page.locator("#summary dd.covered")).to_have_text("¥45.00")
        await expect(status).to_contain_text(words["offline"])
        await expect(page.locator("#voucher-card .offline-banner")).to_be_visible()
        await screenshot(page, lang, "20-offline-basket")
        await page.click("#confirm")
        await expect(page.locator("#receipt .offline-banner")).to_contain_text(words["receipt"])
        await expect(page.locator("#receipt .receipt-row.covered")).to_contain_text("¥45.00")
        await expect(page.locator("#void")).to_be_hidden()
        await screenshot(page, lang, "21-offline-receipt")

        # Sale 2: 80 of stationery; offline the voucher pays at most 50 a sale.
        await page.click("#new-sale")
        await read_voucher(page, vouchers[1]["token"])
        await add_line(page, "stationery", "80", 1, "School bag 书包")
        await add_line(page, "sweets", "5", 1, "Candy 糖果")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥50.00")
        await expect(page.locator("#summary dd.remainder")).to_have_text("¥35.00")
        await expect(page.locator("#lines li[data-line='2'] .verdict.no")).to_be_visible()
        await page.click("#confirm")
        await expect(page.locator("#receipt .receipt-row.covered")).to_contain_text("¥50.00")
        await expect(status).to_contain_text(words["waiting"].format(n=2))

        # A reload without network opens the till from the service worker's copy.
        await page.reload()
        await expect(page.locator("#screen-scan")).to_be_visible()
        await expect(status).to_have_attribute("data-waiting", "2")
        await expect(status).to_have_attribute("data-state", "offline")
        await screenshot(page, lang, "22-offline-after-reload")
        assert await offline_rows(database_url) == []

        # Back online: both forwarded, in order, each once.
        await till.context.set_offline(False)
        await expect(status).to_have_attribute("data-waiting", "0", timeout=20_000)
        await expect(status).to_contain_text(words["online"])
        await screenshot(page, lang, "23-forwarded")
        await page.evaluate("window.dispatchEvent(new Event('online'))")
        await page.wait_for_timeout(1000)
        rows = await offline_rows(database_url)
        assert [(r["voucher_id"], r["covered"], r["offline"], r["shortfall"]) for r in rows] \
            == [(vouchers[0]["id"], 4500, True, 0), (vouchers[1]["id"], 5000, True, 0)]
        assert len({r["key"] for r in rows}) == 2
        assert (await world.voucher(vouchers[0]["id"]))["balance"] == 25500
        assert till.errors == []


async def test_a_double_tap_on_confirm_offline_is_one_sale(
    browser: Browser, world: World, database_url: str  # noqa: F811
) -> None:
    """Offline, confirming checks the kit and signs the sale before the receipt shows, so
    the button stays on screen for a moment: a second tap in that moment must not make a
    second sale of the same basket (forwarded, it would take the voucher twice)."""
    sale, vouchers = await offline_sale(world, vouchers=1)
    async with open_till(browser, world.client, "zh-CN", offline_app=True) as till:
        page = till.page
        await pair(page, await pairing_code(world.client, sale.shop.till_id))
        await ready_for_offline(page)
        await till.context.set_offline(True)
        await read_voucher(page, vouchers[0]["token"])
        await add_line(page, "stationery", "20", 1, "Notebook 笔记本")
        await expect(page.locator("#voucher-card .offline-banner")).to_be_visible()
        await expect(page.locator("#summary dd.covered")).to_have_text("¥20.00")
        await page.dblclick("#confirm")
        await expect(page.locator("#receipt .receipt-row.covered")).to_contain_text("¥20.00")
        status = page.locator("#net-status")
        await page.wait_for_timeout(500)
        await expect(status).to_have_attribute("data-waiting", "1")

        await till.context.set_offline(False)
        await expect(status).to_have_attribute("data-waiting", "0", timeout=20_000)
        await expect(status).to_have_attribute("data-refused", "0")
        rows = await offline_rows(database_url)
        assert [(r["voucher_id"], r["covered"]) for r in rows] == [(vouchers[0]["id"], 2000)]
        assert (await world.voucher(vouchers[0]["id"]))["balance"] == 28000
        assert till.errors == []


async def problem_code(page: Page) -> str | None:
    box = page.locator("#screen-basket .problem")
    await expect(box).to_be_visible()
    return await box.get_attribute("data-code")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_the_tablet_refuses_offline_what_its_kit_does_not_allow(
    browser: Browser, world: World, database_url: str, lang: str  # noqa: F811
) -> None:
    sale, vouchers = await offline_sale(world, vouchers=3, max_till_total=6000)
    revoked = vouchers[2]
    resp = await world.client.post(f"/v1/vouchers/{revoked['id']}/revoke", headers=ADMIN)
    assert resp.status == 200
    async with open_till(browser, world.client, lang, offline_app=True) as till:
        page = till.page
        await pair(page, await pairing_code(world.client, sale.shop.till_id))
        await ready_for_offline(page)
        await till.context.set_offline(True)

        # A voucher the kit lists as revoked.
        await read_voucher(page, revoked["token"])
        await add_line(page, "stationery", "20", 1)
        assert await problem_code(page) == "voucher_revoked"
        await expect(page.locator("#confirm")).to_be_disabled()
        await screenshot(page, lang, "24-offline-revoked")

        # Over the till's offline total: 50 taken, 50 more would pass 60.
        await page.click("#cancel-sale")
        await read_voucher(page, vouchers[0]["token"])
        await add_line(page, "stationery", "50", 1)
        await expect(page.locator("#summary dd.covered")).to_have_text("¥50.00")
        await page.click("#confirm")
        await expect(page.locator("#receipt .offline-banner")).to_be_visible()
        await page.click("#new-sale")
        await read_voucher(page, vouchers[1]["token"])
        await add_line(page, "stationery", "50", 1)
        assert await problem_code(page) == "offline_till_limit"
        await screenshot(page, lang, "25-offline-over-limit")

        # The same voucher again the same day at this till.
        await page.click("#cancel-sale")
        await read_voucher(page, vouchers[0]["token"])
        await add_line(page, "stationery", "5", 1)
        assert await problem_code(page) == "offline_once_a_day"

        # A kit changed on the tablet: its signature no longer holds.
        kit = await page.evaluate("localStorage.getItem('pos.offline-kit')")
        head, payload, signature = kit.split(".")
        tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
        await page.evaluate("k => localStorage.setItem('pos.offline-kit', k)",
                            f"{head}.{tampered}.{signature}")
        await page.click("#cancel-sale")
        await read_voucher(page, vouchers[1]["token"])
        await add_line(page, "stationery", "5", 1)
        assert await problem_code(page) == "offline_kit_invalid"
        await screenshot(page, lang, "26-offline-tampered-kit")

        # The genuine kit, two days later: past its expiry.
        await page.evaluate("k => localStorage.setItem('pos.offline-kit', k)", kit)
        await page.evaluate("(() => { const real = Date.now; "
                            "Date.now = () => real() + 2 * 86400 * 1000; })()")
        await page.click("#cancel-sale")
        await read_voucher(page, vouchers[1]["token"])
        await add_line(page, "stationery", "5", 1)
        assert await problem_code(page) == "offline_kit_expired"
        await screenshot(page, lang, "27-offline-kit-expired")
        assert till.errors == []


CATEGORIES = ["milk", "sweets", "books", "stationery", "alcohol", "diapers", "meals"]
GTINS = [None, "9787020002207", "9787020002208", "4006381333931", "6901234567892"]


def random_rule(rng: random.Random, i: int) -> OfflineRule:
    def some() -> tuple[str, ...]:
        return tuple(rng.sample(CATEGORIES, rng.randint(0, 4)))

    check = rng.choice(["", "isbn13", "approved"])
    return OfflineRule(
        rule=f"r{i}", allowed=rng.choice([None, some()]), denied=some(), excluded=some(),
        merchants=rng.choice([None, ("m1",), ("m2", "m3")]), gtin_check=check,  # type: ignore[arg-type]
        approved_gtins=tuple(g for g in GTINS[1:] if g and rng.random() < 0.5),
        list_version=rng.choice([None, 3]))


async def test_the_tablet_and_the_service_decide_alike(
    browser: Browser, world: World  # noqa: F811
) -> None:
    """offline_rules.js and pos.plugin.offline_rules on the same descriptions and lines."""
    rng = random.Random(2026)
    cases = []
    for i in range(1500):
        rule = random_rule(rng, i)
        gtin = rng.choice(GTINS)
        line = BasketLine(line_no=1, sku="s", category=rng.choice(CATEGORIES),
                          description="d", quantity=1, unit_price=100, gtin=gtin)
        merchant = rng.choice(["m1", "m2"])
        cases.append({"rule": rule.as_dict(), "line": {"category": line.category,
                      "gtin": gtin}, "merchant": merchant,
                      "python": decide_line(rule, line, merchant)})
    async with open_till(browser, world.client, "en") as till:
        got = await till.page.evaluate(
            """async (cases) => {
                 const m = await import('/till/offline_rules.js');
                 return cases.map((c) => m.decideLine(c.rule, c.line, c.merchant));
               }""", cases)
    assert got == [c["python"] for c in cases]
    assert len(set(got)) == 9  # every outcome was exercised
