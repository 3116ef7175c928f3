# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""The till app in a real browser (Debian's Chromium, headless, through Playwright) against
the real service on a loopback port and a real PostgreSQL.

Each step is saved as a screenshot in test-artifacts/till/<language>/, at the portrait
(768x1024) and landscape (1280x800) tablet layouts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, Page, Playwright, Route, expect

from tests.browser.fixtures import (  # noqa: F401 - fixtures
    Sale,
    browser,
    open_till,
    pairing_code,
    playwright,
    wish_sale,
)
from tests.browser.harness import (
    ARTIFACTS,
    launch,
    pdf_page_sizes_mm,
    screenshot,
    write_qr_video,
)
from tests.conftest import World

CAMERA_READY = {"zh-CN": "请将二维码对准摄像头", "en": "Hold the QR code to the camera"}
QR_VOUCHER = {"zh-CN": "二维码券", "en": "QR voucher"}
TEXT = {
    "zh-CN": {"pair": "配对收银台", "not_covered": "券不付", "voided": "已撤销",
              "not_paired": "无法配对", "remainder": "还需支付（由现金支付）",
              "accepted": "收券成功", "unknown": "结果未知",
              "not_this_shop": "这张券不能在本店使用。",
              "nothing_eligible": "购物篮里没有这张券可以支付的商品。",
              "sweets": "本券不支付糖果甜点"},
    "en": {"pair": "Pair this till", "not_covered": "Not covered", "voided": "Voided",
           "not_paired": "Not paired", "remainder": "Left to pay (by cash)",
           "accepted": "Voucher accepted", "unknown": "Outcome unknown",
           "not_this_shop": "This voucher cannot be used in this shop.",
           "nothing_eligible": "Nothing in this basket can be paid with this voucher.",
           "sweets": "this voucher does not pay for sweets, chocolate and desserts"},
}


async def add_line(page: Page, category: str, price: str, quantity: int = 1,
                   description: str = "", gtin: str = "") -> None:
    if gtin:
        await page.fill("#line-gtin", gtin)
    await page.select_option("#line-category", category)
    await page.fill("#line-description", description)
    await page.fill("#line-price", price)
    await page.fill("#line-qty", str(quantity))
    await page.click("#line-form button[type=submit]")


async def pair(page: Page, code: str) -> None:
    await page.fill("#pair-code", code)
    await page.click("#pair-form button[type=submit]")
    await expect(page.locator("#screen-scan")).to_be_visible()


async def set_paired(page: Page, world: World, secret: str, till_id: str,
                     merchant_id: str) -> None:
    """Skip the pairing screen: the credential as the app keeps it after pairing."""
    till = {"till_id": till_id, "merchant_id": merchant_id, "till_name": "Till 1",
            "merchant_name": "乡镇文具店 Township Stationery", "secret": secret}
    await page.evaluate("t => localStorage.setItem('pos.till', JSON.stringify(t))", till)
    await page.reload()
    await expect(page.locator("#screen-scan")).to_be_visible()


async def redemptions_of(database_url: str, voucher_id: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id::text, status, covered FROM redemptions WHERE voucher_id = $1",
            voucher_id)
    finally:
        await conn.close()
    return [dict(r) for r in rows]


SHOP_ZONE = ZoneInfo("Asia/Shanghai")  # the service's time zone (config.toml)

# ------------------------------------------------------------------------------------------
# the whole sale: pairing, manual code, mixed basket, confirm, receipt, print, void, unpair


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_sale_from_pairing_to_void(
    browser: Browser, world: World, database_url: str, lang: str  # noqa: F811
) -> None:
    sale = await wish_sale(world)
    words = TEXT[lang]
    # The tablet's clock is left on UTC; its receipts still show the shop's time.
    async with open_till(browser, world.client, lang, tablet_zone="UTC") as till:
        page = till.page
        await expect(page.locator("#screen-pair h2")).to_have_text(words["pair"])
        await expect(page.locator("html")).to_have_attribute("lang", lang)
        await screenshot(page, lang, "01-pairing")

        # A wrong code is refused as a pairing, not as a voucher.
        await page.fill("#pair-code", "ZZZZ-ZZZZ")
        await page.click("#pair-form button[type=submit]")
        await expect(page.locator("#screen-pair .problem-title")).to_have_text(
            words["not_paired"])
        await screenshot(page, lang, "01b-pairing-refused")

        # Pairing: the code from the admin API gives the tablet its own till secret.
        await pair(page, await pairing_code(world.client, sale.shop.till_id))
        stored = await page.evaluate("JSON.parse(localStorage.getItem('pos.till'))")
        assert stored["till_id"] == sale.shop.till_id
        assert stored["secret"].startswith("till_") and stored["secret"] != sale.shop.secret
        await screenshot(page, lang, "02-scan")

        # The manual code, typed in lower case with spaces, as a cashier might.
        typed = sale.voucher["code"].lower().replace("-", " ")
        await page.fill("#voucher-input", typed)
        await page.click("#voucher-form button[type=submit]")
        await expect(page.locator("#screen-basket")).to_be_visible()
        await screenshot(page, lang, "03-voucher-read")

        # A mixed basket: 2 notebooks at 45, a book at 40 (with its ISBN barcode), sweets 15.
        await add_line(page, "stationery", "45", 2, "Notebook 笔记本")
        await add_line(page, "books", "40.00", 1, "Picture book 绘本", gtin="9787020002207")
        await add_line(page, "sweets", "15.5", 1, "Candy 糖果")
        covered = page.locator("#summary dd.covered")
        await expect(covered).to_have_text("¥100.00")  # eligible 130, capped at 100 a visit
        await expect(page.locator("#summary dd.remainder")).to_have_text("¥45.50")
        await expect(page.locator("#summary dd.total")).to_have_text("¥145.50")
        await expect(page.locator("#summary dt").nth(2)).to_have_text(words["remainder"])
        sweets = page.locator("#lines li[data-line='3']")
        await expect(sweets).to_have_class("line ineligible")
        await expect(sweets.locator(".verdict")).to_contain_text(words["not_covered"])
        await expect(sweets.locator(".reason")).to_contain_text(words["sweets"])
        await expect(page.locator("#lines li[data-line='1'] .verdict.yes")).to_be_visible()
        await expect(page.locator("#voucher-card .program")).to_have_text("心愿券 Wish voucher")
        await screenshot(page, lang, "04-basket")

        # Confirm: the receipt.
        pressed = datetime.now(SHOP_ZONE)
        await page.click("#confirm")
        receipt = page.locator("#receipt")
        await expect(receipt.locator("h2")).to_have_text(words["accepted"])
        printed = await receipt.locator(".receipt-row.time span").nth(1).text_content()
        assert printed is not None
        at = datetime.strptime(printed, "%Y-%m-%d %H:%M").replace(tzinfo=SHOP_ZONE)
        assert timedelta(minutes=-1) <= at - pressed <= timedelta(minutes=1), (printed,
                                                                               pressed)
        await expect(receipt.locator(".receipt-row.covered")).to_contain_text("¥100.00")
        await expect(receipt.locator(".receipt-row.remainder")).to_contain_text("¥45.50")
        await expect(receipt.locator(".receipt-row.balance")).to_contain_text("¥200.00")
        redemption_id = await page.locator("#redemption-id").text_content()
        assert redemption_id
        qr_text = await page.locator("canvas.receipt-qr").get_attribute("data-text")
        assert qr_text == redemption_id
        await screenshot(page, lang, "05-receipt")
        (taken,) = await redemptions_of(database_url, sale.voucher["id"])
        assert (taken["id"], taken["status"], taken["covered"]) == (redemption_id,
                                                                      "captured", 10000)

        await check_print_layouts(page, lang)

        # Void from the receipt, after a confirmation.
        await page.click("#void")
        await expect(page.locator("#void-dialog")).to_be_visible()
        await expect(page.locator("#void-body")).to_contain_text("¥100.00")
        await screenshot(page, lang, "07-void-confirm")
        await page.click("#void-yes")
        await expect(receipt.locator("h2")).to_have_text(words["voided"])
        await expect(receipt.locator(".receipt-row.balance")).to_contain_text("¥300.00")
        await expect(receipt.locator(".receipt-row.restored")).to_contain_text("¥100.00")
        await expect(page.locator("#void")).to_be_hidden()
        await screenshot(page, lang, "08-voided")
        assert (await world.voucher(sale.voucher["id"]))["balance"] == 30000
        (voided,) = await redemptions_of(database_url, sale.voucher["id"])
        assert voided["status"] == "voided"

        # The language can be switched by hand, and the choice is kept.
        other = "en" if lang == "zh-CN" else "zh-CN"
        await page.click("#lang-switch")
        await expect(page.locator("html")).to_have_attribute("lang", other)
        await expect(receipt.locator("h2")).to_have_text(TEXT[other]["voided"])
        assert await page.evaluate("localStorage.getItem('pos.lang')") == other
        await page.click("#lang-switch")

        # Next customer, then unpair: the credential is forgotten.
        await page.click("#new-sale")
        await expect(page.locator("#show-last-receipt")).to_be_visible()
        page.once("dialog", lambda dialog: dialog.accept())
        await page.click("#unpair")
        await expect(page.locator("#screen-pair")).to_be_visible()
        assert await page.evaluate("localStorage.getItem('pos.till')") is None
        assert till.errors == []


async def check_print_layouts(page: Page, lang: str) -> None:
    """The receipt prints alone, on a page as wide as the roll (58 mm or 80 mm) and as long
    as the receipt."""
    await page.evaluate("window.print = () => {}")  # no print dialog in a headless test
    folder = ARTIFACTS / lang
    for width in (58, 80):
        await page.click(f"#print-{width}")
        pdf = await page.pdf(prefer_css_page_size=True, print_background=True)
        (folder / f"06-print-{width}mm.pdf").write_bytes(pdf)
        sizes = pdf_page_sizes_mm(pdf)
        assert len(sizes) == 1, sizes  # one receipt, one page: no blank roll fed
        assert abs(sizes[0][0] - width) < 0.5, sizes
    for width in (58, 80):
        # What the printer gets, as an image: print media at the roll's width in pixels.
        await page.click(f"#print-{width}")
        await page.emulate_media(media="print")
        original = page.viewport_size
        await page.set_viewport_size({"width": round(width / 25.4 * 96), "height": 900})
        await page.screenshot(path=str(folder / f"06-print-{width}mm.png"), full_page=True)
        assert not await page.locator("#new-sale").is_visible()
        assert original is not None
        await page.set_viewport_size(original)
        await page.emulate_media(media="screen")


# ------------------------------------------------------------------------------------------
# the camera, for real: a fake camera plays a video of the voucher's QR code


async def test_camera_reads_the_voucher_qr(
    playwright: Playwright, world: World, tmp_path: Path  # noqa: F811
) -> None:
    sale = await wish_sale(world)
    video = write_qr_video(sale.voucher["token"], tmp_path / "voucher-qr.y4m")
    async with launch(playwright, camera_video=video) as camera_browser:
        for lang in ("zh-CN", "en"):
            await scan_with_camera(camera_browser, world, sale, lang)


async def scan_with_camera(browser: Browser, world: World, sale: Sale, lang: str  # noqa: F811
                           ) -> None:
    async with open_till(browser, world.client, lang, "portrait") as till:
        page = till.page
        # Hold the decoder back until the camera view is on record.
        decoder_requests: list[Route] = []

        async def hold(route: Route) -> None:
            decoder_requests.append(route)

        await page.route("**/vendor/jsqr/jsQR.js", hold)
        await set_paired(page, world, sale.shop.secret, sale.shop.till_id,
                         sale.shop.merchant_id)
        await expect(page.locator("#camera")).to_have_js_property("readyState", 4)
        await expect(page.locator("#camera-status")).to_have_text(CAMERA_READY[lang])
        await page.wait_for_timeout(300)  # a frame or two on screen
        await screenshot(page, lang, "02-scan-camera")
        assert len(decoder_requests) == 1
        await decoder_requests[0].continue_()
        await page.unroute("**/vendor/jsqr/jsQR.js")

        await expect(page.locator("#screen-basket")).to_be_visible()
        # Chromium on Linux has no BarcodeDetector: the vendored decoder read the frame.
        assert await page.locator("#camera").get_attribute("data-decoder") == "jsqr"
        await add_line(page, "stationery", "12.50", 1, "Pencils 铅笔")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥12.50")
        await expect(page.locator("#voucher-card .program")).to_have_text("心愿券 Wish voucher")
        await expect(page.locator("#voucher-card")).to_contain_text(QR_VOUCHER[lang])
        await screenshot(page, lang, "03-voucher-from-camera")
        assert till.errors == []


# ------------------------------------------------------------------------------------------
# the connection drops after the service took the redemption but before the till heard


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_dropped_answer_is_retried_with_the_same_key_and_redeems_once(
    browser: Browser, world: World, database_url: str, lang: str  # noqa: F811
) -> None:
    sale = await wish_sale(world)
    seen: list[dict[str, Any]] = []

    async def drop_first_answer(route: Route) -> None:
        request = route.request
        seen.append({"key": request.headers.get("idempotency-key"),
                     "body": request.post_data_json})
        if len(seen) == 1:
            answer = await route.fetch()  # the request reaches the service, which commits
            assert answer.status == 201
            await route.abort("connectionreset")  # ...and the answer never arrives
        else:
            await route.continue_()

    async with open_till(browser, world.client, lang) as till:
        page = till.page
        await set_paired(page, world, sale.shop.secret, sale.shop.till_id,
                         sale.shop.merchant_id)
        await page.route("**/v1/redemptions", drop_first_answer)
        await page.fill("#voucher-input", sale.voucher["code"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "stationery", "30", 1, "Exercise books 练习本")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥30.00")
        await page.click("#confirm")

        pending = page.locator("#screen-pending")
        await expect(pending).to_have_attribute("data-state", "unknown")
        await expect(page.locator("#pending-title")).to_have_text(TEXT[lang]["unknown"])
        # Until it has an answer the page keeps the write, so a reload would resume it too.
        kept = await page.evaluate("JSON.parse(localStorage.getItem('pos.pending'))")
        assert kept["key"] == seen[0]["key"]
        await screenshot(page, lang, "05a-outcome-unknown")

        await expect(page.locator("#receipt h2")).to_have_text(TEXT[lang]["accepted"])
        await screenshot(page, lang, "05b-receipt-after-retry")
        assert len(seen) == 2
        assert seen[0]["key"] == seen[1]["key"] and seen[0]["key"]
        assert seen[0]["body"] == seen[1]["body"]
        assert await page.evaluate("localStorage.getItem('pos.pending')") is None

    (taken,) = await redemptions_of(database_url, sale.voucher["id"])
    assert taken["covered"] == 3000
    assert (await world.voucher(sale.voucher["id"]))["balance"] == 27000


async def test_the_header_says_offline_while_the_outcome_is_unknown(
    browser: Browser, world: World, database_url: str  # noqa: F811
) -> None:
    """While a confirmation gets no answer, the header does not say "online" beside "the
    connection dropped"; once the answer comes it says online again."""
    sale = await wish_sale(world)
    held = 0

    async def no_answer_twice(route: Route) -> None:
        nonlocal held
        held += 1
        if held <= 2:
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    async with open_till(browser, world.client, "zh-CN") as till:
        page = till.page
        await set_paired(page, world, sale.shop.secret, sale.shop.till_id,
                         sale.shop.merchant_id)
        await page.route("**/v1/redemptions", no_answer_twice)
        await page.fill("#voucher-input", sale.voucher["code"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "stationery", "30", 1, "Exercise books 练习本")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥30.00")
        net = page.locator("#net-status")
        await expect(net).to_have_attribute("data-state", "online")
        await page.click("#confirm")
        await expect(page.locator("#screen-pending")).to_have_attribute("data-state", "unknown")
        await expect(net).to_have_attribute("data-state", "offline")
        await expect(net).to_contain_text("离线")
        await screenshot(page, "zh-CN", "05c-outcome-unknown-offline")

        await expect(page.locator("#receipt h2")).to_have_text(TEXT["zh-CN"]["accepted"])
        await expect(net).to_have_attribute("data-state", "online")
    (taken,) = await redemptions_of(database_url, sale.voucher["id"])
    assert taken["covered"] == 3000


VOID_UNKNOWN = {
    "zh-CN": "网络中断，暂不知道这笔撤销是否完成。正在用同一笔请求重试，券额只会退回一次。",
    "en": "The connection dropped, so we do not know yet whether the void went through. "
          "Retrying the same request; the value goes back to the voucher only once.",
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_void_whose_answer_is_lost_says_it_is_the_void_that_is_unknown(
    browser: Browser, world: World, database_url: str, lang: str  # noqa: F811
) -> None:
    """The pending screen of a void speaks of the void (and its amount), not of taking the
    voucher; the same request then voids once."""
    sale = await wish_sale(world)
    voids = 0

    async def drop_first_void_answer(route: Route) -> None:
        nonlocal voids
        voids += 1
        if voids == 1:
            answer = await route.fetch()
            assert answer.status == 200
            await route.abort("connectionreset")
        else:
            await route.continue_()

    async with open_till(browser, world.client, lang) as till:
        page = till.page
        await set_paired(page, world, sale.shop.secret, sale.shop.till_id,
                         sale.shop.merchant_id)
        await page.fill("#voucher-input", sale.voucher["code"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "stationery", "25", 1, "Exercise books 练习本")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥25.00")
        await page.click("#confirm")
        await expect(page.locator("#receipt h2")).to_have_text(TEXT[lang]["accepted"])

        await page.route("**/v1/redemptions/*/void", drop_first_void_answer)
        await page.click("#void")
        await page.click("#void-yes")
        pending = page.locator("#screen-pending")
        await expect(pending).to_have_attribute("data-state", "unknown")
        await expect(page.locator("#pending-help")).to_have_text(VOID_UNKNOWN[lang])
        await expect(page.locator("#pending-what")).to_contain_text("¥25.00")
        await screenshot(page, lang, "08b-void-outcome-unknown")

        await expect(page.locator("#receipt h2")).to_have_text(TEXT[lang]["voided"])
        assert voids == 2
    (voided,) = await redemptions_of(database_url, sale.voucher["id"])
    assert voided["status"] == "voided"
    assert (await world.voucher(sale.voucher["id"]))["balance"] == 30000


async def test_unanswered_redemption_is_resumed_after_a_reload(
    browser: Browser, world: World, database_url: str  # noqa: F811
) -> None:
    """The tablet restarts while the outcome is unknown: the page sends the kept request
    again on start-up and shows the one redemption the service made."""
    sale = await wish_sale(world)

    async def never_answer(route: Route) -> None:
        await route.fetch()
        await route.abort("connectionreset")

    async with open_till(browser, world.client, "en") as till:
        page = till.page
        await set_paired(page, world, sale.shop.secret, sale.shop.till_id,
                         sale.shop.merchant_id)
        await page.route("**/v1/redemptions", never_answer)
        await page.fill("#voucher-input", sale.voucher["code"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "books", "25", 2, "Storybook")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥50.00")
        await page.click("#confirm")
        await expect(page.locator("#screen-pending")).to_have_attribute("data-state", "unknown")
        await page.unroute("**/v1/redemptions")
        await page.reload()
        await expect(page.locator("#receipt .receipt-row.covered")).to_contain_text("¥50.00")

    (taken,) = await redemptions_of(database_url, sale.voucher["id"])
    assert taken["covered"] == 5000



async def test_an_unknown_outcome_survives_re_pairing_the_same_till(
    browser: Browser, world: World, database_url: str  # noqa: F811
) -> None:
    """The answer is lost, then the till's credential is refused (it was paired again
    meanwhile): the write is kept, and finished with the same key once the tablet is
    paired to the same till again."""
    sale = await wish_sale(world)
    keys: list[str | None] = []

    async def lose_then_refuse(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            await route.fetch()
            await route.abort("connectionreset")
        elif len(keys) == 2:
            await route.fulfill(status=401, content_type="application/problem+json", json={
                "type": "about:blank", "title": "Not allowed", "status": 401,
                "code": "unauthorized", "detail": "This device is not signed in."})
        else:
            await route.continue_()

    async with open_till(browser, world.client, "en") as till:
        page = till.page
        await pair(page, await pairing_code(world.client, sale.shop.till_id))
        await page.route("**/v1/redemptions", lose_then_refuse)
        await page.fill("#voucher-input", sale.voucher["code"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "stationery", "20", 1, "Crayons")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥20.00")
        await page.click("#confirm")
        await expect(page.locator("#screen-pair")).to_be_visible()
        await expect(page.locator("#notice")).to_be_visible()
        assert await page.evaluate("localStorage.getItem('pos.pending')") is not None

        await pair_again(page, await pairing_code(world.client, sale.shop.till_id))
        await expect(page.locator("#receipt .receipt-row.covered")).to_contain_text("¥20.00")
        assert len(keys) == 3 and len(set(keys)) == 1
        assert till.errors == []

    (taken,) = await redemptions_of(database_url, sale.voucher["id"])
    assert taken["covered"] == 2000


async def test_a_kept_write_of_another_till_is_not_sent_as_this_one(
    browser: Browser, world: World, database_url: str  # noqa: F811
) -> None:
    """Idempotency keys belong to a till: sent by another till the same key would be a new
    request, so a write kept from a different till is dropped, with a notice, not sent."""
    sale = await wish_sale(world)
    async with open_till(browser, world.client, "en") as till:
        page = till.page
        await page.evaluate("""(token) => localStorage.setItem('pos.pending', JSON.stringify({
            kind: 'redeem', path: '/v1/redemptions', key: 'k-1', started: 0,
            body: {token, channel: 'cash', basket: {currency: 'CNY', lines: [{sku: 's',
                   category: 'stationery', description: 'x', quantity: 1, unit_price: 100}]}},
            context: {till_id: '00000000-0000-4000-8000-000000000000'}}))""",
                            sale.voucher["token"])
        await set_paired(page, world, sale.shop.secret, sale.shop.till_id,
                         sale.shop.merchant_id)
        await expect(page.locator("#notice")).to_contain_text("unknown outcome")
        assert await page.evaluate("localStorage.getItem('pos.pending')") is None
        assert till.errors == []
    assert await redemptions_of(database_url, sale.voucher["id"]) == []


async def pair_again(page: Page, code: str) -> None:
    await page.fill("#pair-code", code)
    await page.click("#pair-form button[type=submit]")


# ------------------------------------------------------------------------------------------
# refusals: the problem's sentence, large


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_refusals_show_the_cashiers_sentence(
    browser: Browser, world: World, lang: str  # noqa: F811
) -> None:
    sale = await wish_sale(world)
    elsewhere = await world.shop("Elsewhere")
    words = TEXT[lang]
    async with open_till(browser, world.client, lang) as till:
        page = till.page
        # Nothing eligible: each line says why, and confirm stays off.
        await set_paired(page, world, sale.shop.secret, sale.shop.till_id,
                         sale.shop.merchant_id)
        await page.fill("#voucher-input", sale.voucher["code"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "sweets", "8", 1, "Lollipop 棒棒糖")
        await add_line(page, "sweets", "5")  # no description: named by its category, once
        named = await page.locator("#lines li[data-line='1'] .line-category").text_content()
        assert named
        unnamed = page.locator("#lines li[data-line='2']")
        await expect(unnamed.locator(".line-name")).to_have_text(named)
        await expect(unnamed.locator(".line-category")).to_have_count(0)
        problem = page.locator("#screen-basket .problem")
        await expect(problem.locator(".problem-detail")).to_have_text(words["nothing_eligible"])
        await expect(page.locator("#lines li[data-line='1'] .reason")).to_contain_text(
            words["sweets"])
        await expect(page.locator("#confirm")).to_be_disabled()
        await screenshot(page, lang, "09-refusal-nothing-eligible")

        # A shop that is not a partner of the program: the QR (a token, unguessable) says so.
        await set_paired(page, world, elsewhere.secret, elsewhere.till_id,
                         elsewhere.merchant_id)
        await page.fill("#voucher-input", sale.voucher["token"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "stationery", "8", 1, "Pen 笔")
        # About the voucher, not the basket: back to reading a voucher, still paired.
        problem = page.locator("#screen-scan .problem")
        await expect(problem.locator(".problem-detail")).to_have_text(words["not_this_shop"])
        await expect(problem).to_have_attribute("data-code", "merchant_not_accepted")
        await expect(page.locator("#unpair")).to_be_visible()
        await screenshot(page, lang, "10-refusal-not-this-shop")

        # A typed code at that shop answers as an unknown code would (no guessing oracle),
        # and the tablet stays paired: that refusal (422) is about the code, not the till.
        await set_paired(page, world, elsewhere.secret, elsewhere.till_id,
                         elsewhere.merchant_id)
        await page.fill("#voucher-input", sale.voucher["code"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "stationery", "8", 1, "Pen 笔")
        await expect(problem).to_have_attribute("data-code", "invalid_token")
        await expect(page.locator("#screen-scan")).to_be_visible()
        await expect(page.locator("#unpair")).to_be_visible()
        assert till.errors == []


async def test_identity_check_is_asked_for_when_the_program_needs_it(
    browser: Browser, world: World  # noqa: F811
) -> None:
    shop = await world.shop("Community canteen")
    program = await world.program(name="Elderly meals", restrictions=["categories"],
                                  face_value=20000, require_identity=True,
                                  rule_settings={"categories": {"allowed": ["meals"]}},
                                  partners=[shop])
    (voucher,) = await world.issue(program)
    async with open_till(browser, world.client, "zh-CN", "portrait") as till:
        page = till.page
        await set_paired(page, world, shop.secret, shop.till_id, shop.merchant_id)
        await page.fill("#voucher-input", voucher["code"])
        await page.click("#voucher-form button[type=submit]")
        await add_line(page, "meals", "12", 1, "Lunch 午餐")
        problem = page.locator("#screen-basket .problem")
        await expect(problem).to_have_attribute("data-code", "identity_check_required")
        await expect(page.locator("#identity")).to_be_visible()
        await expect(page.locator("#confirm")).to_be_disabled()
        await screenshot(page, "zh-CN", "11-identity-check")
        await page.check("#identity-check")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥12.00")
        await expect(problem).to_be_hidden()
        await page.click("#confirm")
        await expect(page.locator("#receipt .receipt-row.covered")).to_contain_text("¥12.00")
        assert till.errors == []


# ------------------------------------------------------------------------------------------
# a barcode scanner that types like a keyboard, and the page's money arithmetic


async def test_keyboard_scanner_reads_voucher_and_remembered_products(
    browser: Browser, world: World  # noqa: F811
) -> None:
    sale = await wish_sale(world)
    async with open_till(browser, world.client, "en", "portrait") as till:
        page = till.page
        # Paired by pasting a till secret (as the demo prints them) instead of a code.
        await pair(page, sale.shop.secret)
        await expect(page.locator("#paired-as")).to_have_text(
            "乡镇文具店 Township Stationery · Till 1")
        # The scanner "types" the QR's text and Enter into the focused field.
        await expect(page.locator("#voucher-input")).to_be_focused()
        await page.keyboard.type(sale.voucher["token"] + "\n")
        await expect(page.locator("#screen-basket")).to_be_visible()
        await expect(page.locator("#line-gtin")).to_be_focused()

        # A new product: barcode, then category and price by hand; it is remembered.
        await page.keyboard.type("9787020002207\n")
        await expect(page.locator("#line-price")).to_be_focused()
        await add_line(page, "books", "32.80", 1, "Dictionary")
        # Scanned again: the same line counts two, with no typing.
        await page.keyboard.type("9787020002207\n")
        await expect(page.locator("#lines li")).to_have_count(1)
        await expect(page.locator("#lines li .line-price")).to_have_text("¥32.80 \u00d7 2")
        await expect(page.locator("#summary dd.covered")).to_have_text("¥65.60")
        # A misread barcode (wrong check digit) is refused before anything is sent.
        await page.fill("#line-gtin", "9787020002208")
        await page.fill("#line-price", "1")
        await page.click("#line-form button[type=submit]")
        await expect(page.locator("#line-form .form-error")).to_be_visible()
        await expect(page.locator("#lines li")).to_have_count(1)
        assert till.errors == []


async def test_money_in_the_page_is_integer_minor_units(
    browser: Browser, world: World  # noqa: F811
) -> None:
    async with open_till(browser, world.client, "en") as till:
        results = await till.page.evaluate("""async () => {
            const m = await import('./money.js');
            return {
                formatted: [m.formatMoney(0), m.formatMoney(5), m.formatMoney(123456789),
                            m.formatMoney(-1050), m.formatMoney(1.5), m.formatMoney(100, 'EUR')],
                parsed: ['12', '12.5', '12.50', '0.07', '¥3,5', '1.234', '-1', 'abc', '',
                         '0.1'].map(m.parseMoney),
                sum: m.sumMinor([10, 20, 1]),
                floatRefused: (() => { try { m.sumMinor([0.1]); return false; }
                                       catch { return true; } })(),
            };
        }""")
    assert results["formatted"] == ["¥0.00", "¥0.05", "¥1,234,567.89", "-¥10.50", "—",
                                    "1.00 EUR"]
    assert results["parsed"] == [1200, 1250, 1250, 7, 350, None, None, None, None, 10]
    assert results["sum"] == 31 and results["floatRefused"] is True



@pytest.mark.parametrize(("lang", "sentence"), [
    ("zh-CN", "请输入管理员给的配对码。"),
    ("en", "Type the pairing code the administrator gave you.")])
async def test_a_blank_pairing_code_asks_for_the_code(
    browser: Browser, world: World, lang: str, sentence: str  # noqa: F811
) -> None:
    """Only spaces in the pairing field: the tablet asks for the code, rather than sending
    it and showing the service's field error (which calls it a voucher code)."""
    async with open_till(browser, world.client, lang) as till:
        page = till.page
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url) if "/v1/pairings" in r.url else None)
        await page.fill("#pair-code", "   ")
        await page.click("#pair-form button[type=submit]")
        problem = page.locator("#screen-pair .problem")
        await expect(problem.locator(".problem-detail")).to_have_text(sentence)
        await expect(problem.locator(".problem-title")).to_have_text(TEXT[lang]["not_paired"])
        assert sent == []
        assert till.errors == []


async def test_a_price_typed_through_a_chinese_input_method_is_read(
    browser: Browser, world: World  # noqa: F811
) -> None:
    """A Chinese input method types full-width digits and, in Chinese punctuation
    mode, 。 for the decimal point: the price the cashier meant, not "type a price"."""
    async with open_till(browser, world.client, "zh-CN") as till:
        parsed = await till.page.evaluate("""async () => {
            const m = await import('./money.js');
            return ['１２.５０', '12。5', '￥１２', '１２，５', '１２。３４５'].map(m.parseMoney);
        }""")
    assert parsed == [1250, 1250, 1200, 1250, None]


async def test_what_the_scanner_reads_is_sorted_out_in_the_page(
    browser: Browser, world: World  # noqa: F811
) -> None:
    token = "eyJhbGciOiJFZERTQSJ9.eyJ2aWQiOiIxMjM0NTY3OCJ9.c2lnbmF0dXJlX2J5dGVz"
    async with open_till(browser, world.client, "en") as till:
        results = await till.page.evaluate("""async (token) => {
            const c = await import('./codes.js');
            return {
                credentials: [token, `https://vouchers.example/v#${token}`, ' abcd-efgh ', '']
                    .map(c.voucherCredential),
                gtins: ['9787020002207', '9787020002208', '96385074', '12345', '0012345678905']
                    .map(c.gtinValid),
                keys: new Set([c.newKey(), c.newKey(), c.newKey()]).size,
            };
        }""", token)
    assert results["credentials"] == [{"token": token}, {"token": token},
                                      {"code": "ABCD-EFGH"}, None]
    assert results["gtins"] == [True, False, True, False, True]
    assert results["keys"] == 3
