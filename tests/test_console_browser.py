# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""The program officer's console in a real browser (Debian's Chromium through Playwright)
against the real service and PostgreSQL: an officer creates a program, adds a merchant and
a till, makes a pairing code, uploads a beneficiary list, issues and downloads the cards;
finance approves a run another account cut; an auditor reads but is refused a write.

Each console page is saved in both languages under test-artifacts/console/<language>/.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, BrowserContext, Page, expect

from pos.api.app import ROUTE_TABLES
from pos.api.state import SERVICES
from tests.accounts_support import NEW_PASSWORD, Person, person
from tests.browser.fixtures import browser, playwright  # noqa: F401 - fixtures
from tests.browser.harness import console_errors
from tests.conftest import Shop, World, basket, new_key
from tests.settlement_support import insert_synthetic_redemptions

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "console"


async def _context(browser: Browser, lang: str = "zh-CN", width: int = 1280,  # noqa: F811
                   height: int = 800) -> BrowserContext:
    context = await browser.new_context(
        locale=lang, viewport={"width": width, "height": height}, timezone_id="Asia/Shanghai",
        accept_downloads=True)
    context.set_default_timeout(15_000)
    return context


async def _sign_in_first_time(page: Page, base: str, who: Person) -> None:
    """The first sign-in: the one-time password, then one's own."""
    await page.goto(f"{base}/admin/login")
    await page.fill("input[name=login]", who.login)
    await page.fill("input[name=password]", who.one_time_password)
    await page.click("#sign-in button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/admin/password$"))
    await page.fill("input[name=current]", who.one_time_password)
    await page.fill("input[name=new]", NEW_PASSWORD)
    await page.click("form[data-api='/v1/me/password'] button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/admin/$"))


async def _shot(page: Page, lang: str, name: str) -> None:
    folder = ARTIFACTS / lang
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True,
                          animations="disabled", caret="hide")


async def test_a_program_from_creation_to_an_approved_settlement(
    browser: Browser, world: World, database_url: str, tmp_path: Path  # noqa: F811
) -> None:
    base = str(world.client.make_url("")).rstrip("/")
    officer = await person(world, "li.officer", "officer")
    context = await _context(browser)
    page = await context.new_page()
    errors = console_errors(page)
    await _sign_in_first_time(page, base, officer)

    # A program, with the form's explanations, as the API validates it.
    await page.click("nav a[href='/admin/programs']")
    form = page.locator("#program-form")
    await form.locator("input[name=name]").fill("心愿券 Wish voucher")
    await form.locator("select[name=restrictions]").select_option("categories")
    await form.get_by_role("checkbox", name="文具", exact=True).check()
    await form.get_by_role("checkbox", name="图书", exact=True).check()
    await form.locator("input[name=face_value]").fill("300")
    await form.locator("input[name=per_visit_cap]").fill("100")
    await form.locator("input[name=valid_from]").fill(str(date.today() - timedelta(days=3)))
    await form.locator("input[name=valid_until]").fill(str(date.today() + timedelta(days=180)))
    await form.locator("button[type=submit]").click()
    await expect(page.locator("h1")).to_have_text("心愿券 Wish voucher")
    program_url = page.url
    await expect(page.locator("dl.facts")).to_contain_text("文具")
    await expect(page.locator("dl.facts")).to_contain_text("100.00 CNY")
    # The end shown and offered for editing is the last day the officer chose; saving the
    # form as it is leaves it there.
    last_day = str(date.today() + timedelta(days=180))
    edit = page.locator("form[data-method=PATCH]")
    for _ in range(2):
        await expect(page.locator("dl.facts")).to_contain_text(f"– {last_day}")
        await expect(edit.locator("input[name=valid_until]")).to_have_value(last_day)
        await edit.locator("button[type=submit]").click()
        await page.wait_for_load_state()
    await expect(page.locator("dl.facts")).to_contain_text(f"– {last_day}")

    # A merchant, a till, and the till's pairing code.
    await page.click("nav a[href='/admin/merchants']")
    await page.fill("#merchant-form input[name=name]", "乡镇文具店")
    await page.click("#merchant-form button[type=submit]")
    till_form = page.locator(".merchant", has_text="乡镇文具店").locator(".till-form")
    await till_form.locator("input[name=name]").fill("1号收银台")
    await till_form.locator("button").click()
    await page.click("a.button:has-text('配对码')")
    await page.click("#pairing-form button[type=submit]")
    code = page.locator("#pairing-form .big-code")
    await expect(code).to_have_text(re.compile(r"^[A-Z0-9-]{6,}$"))
    await expect(page.locator(".qr svg")).to_be_visible()

    # The merchant becomes a partner; the list is checked, then issued.
    await page.goto(program_url)
    await page.click("#partner-form button[type=submit]")
    await expect(page.locator("section", has_text="合作商户").locator("li")).to_have_text(
        "乡镇文具店")
    bad = tmp_path / "bad.csv"
    bad.write_text("ref,holder_ref,note\nchild-001,,\nchild-001,,\n", encoding="utf-8")
    await page.set_input_files("#issuance-form input[type=file]", str(bad))
    await page.click("[data-step=check]")
    await expect(page.locator("#issuance-report")).to_contain_text("名单有问题")
    await expect(page.locator("#issuance-report table")).to_contain_text("child-001")
    good = tmp_path / "list.csv"
    good.write_text("ref,holder_ref,note\n" + "".join(f"child-{i:03},,\n" for i in range(1, 6)),
                    encoding="utf-8")
    await page.set_input_files("#issuance-form input[type=file]", str(good))
    await page.click("[data-step=check]")
    await expect(page.locator("#issuance-report")).to_contain_text("可发券数\uff1a5")
    await page.click("[data-step=issue]")
    await expect(page.locator("#issuance-progress")).to_have_attribute("value", "100")
    cards = page.locator("a", has_text="下载券卡")
    await expect(cards).to_be_visible()
    async with page.expect_download() as download_info:
        await cards.click()
    pdf = await (await download_info.value).path()
    assert (await asyncio.to_thread(pdf.read_bytes)).startswith(b"%PDF")

    # The voucher of one child, found by reference.
    await page.click("nav a[href='/admin/vouchers']")
    await page.fill("#voucher-search input[name=q]", "child-003")
    await page.click("#voucher-search button")
    await page.click("a:has-text('child-003')")
    await expect(page.locator("#voucher-balance")).to_have_text("300.00 CNY")
    assert errors == []
    await context.close()

    # Money moved yesterday, so a run can cover it; finance cuts it, another approves.
    await _spent_yesterday(world, database_url)
    wang = await person(world, "wang.finance", "finance")
    liu = await person(world, "liu.finance", "finance")
    context = await _context(browser)
    page = await context.new_page()
    await _sign_in_first_time(page, base, wang)
    await page.click("nav a[href='/admin/settlement']")
    await page.click("#settle-form button[type=submit]")
    row = page.locator("#batches tr", has_text="乡镇文具店")
    await expect(row.locator(".status")).to_have_text("待批准")
    await row.locator("form.approve button").click()
    await expect(row.locator(".error")).to_contain_text("须由另一位同事")
    await context.close()

    context = await _context(browser, "en")
    page = await context.new_page()
    await _sign_in_first_time(page, base, liu)
    await page.goto(f"{base}/admin/settlement?lang=en")
    row = page.locator("#batches tr", has_text="乡镇文具店")
    await row.locator("form.approve button").click()
    await expect(row.locator(".status")).to_have_text("approved")
    async with page.expect_download() as download_info:
        await row.locator("a", has_text="csv").click()
    csv_file = await (await download_info.value).path()
    text = await asyncio.to_thread(csv_file.read_text, encoding="utf-8-sig")
    assert "乡镇文具店" in text
    assert text.startswith("batch_id,merchant_id,"), "the header is in the console's language"
    await context.close()

    # The auditor reads everything and changes nothing.
    auditor = await person(world, "zhao.audit", "auditor")
    context = await _context(browser)
    page = await context.new_page()
    await _sign_in_first_time(page, base, auditor)
    await page.click("nav a[href='/admin/merchants']")
    await expect(page.locator("#merchant-form")).to_have_count(0)
    status = await page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name=csrf-token]').content;
        const r = await fetch('/v1/merchants', {method: 'POST', headers: {
            'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
            body: JSON.stringify({name: 'x'})});
        return [r.status, (await r.json()).code];
    }""")
    assert status == [403, "forbidden"]
    await page.click("nav a[href='/admin/audit']")
    await expect(page.locator("#chain")).to_contain_text("日志链完整")
    audit = page.locator("table.audit")
    await expect(audit).to_contain_text("li.officer")
    await expect(audit).to_contain_text("liu.finance")
    # Each write is named in the page's language, its route beside it.
    await expect(audit).to_contain_text("批准结算批次付款")
    await expect(audit).to_contain_text("登记商户")
    await expect(audit).not_to_contain_text("Register a merchant")
    # A row opens on what changed, as the console shows values; the raw record under it.
    approved = audit.locator("tr", has_text="批准结算批次付款")
    await approved.locator("summary").first.click()
    fields = approved.locator("table.fields")
    await expect(fields.locator("tr", has_text="status")).to_contain_text("draft")
    await expect(fields.locator("tr", has_text="status")).to_contain_text("approved")
    await expect(fields.locator("tr", has_text="updated_at")).to_have_text(
        re.compile(r"^updated_at(\d{4}-\d{2}-\d{2} \d{2}:\d{2}){2}$"))
    await expect(fields).not_to_contain_text("+00:00")
    await expect(approved.locator("details.raw pre").first).to_be_hidden()
    await _shot(page, "zh-CN", "audit")
    await page.goto(f"{base}/admin/audit?lang=en")
    await expect(audit).to_contain_text("Approve a batch for payment")
    await expect(audit).to_contain_text("Register a merchant")
    await expect(audit).not_to_contain_text("登记商户")
    await expect(audit).not_to_contain_text("1 rows")
    await _shot(page, "en", "audit")
    await context.close()
    # Whatever the walk wrote through (a GET among them: a payment file's download records
    # its hash) has its Chinese name.
    unnamed = await _unnamed_actions(database_url)
    assert unnamed == set()


async def test_a_refused_form_speaks_the_pages_language_not_the_browsers(
    browser: Browser, world: World  # noqa: F811
) -> None:
    """An officer whose browser is set to English reads the console in Chinese (its
    default): a refusal of the service is shown in Chinese too, whole; in English once the
    page is switched."""
    base = str(world.client.make_url("")).rstrip("/")
    officer = await person(world, "sun.officer", "officer")
    context = await _context(browser, lang="en-US")
    page = await context.new_page()
    await _sign_in_first_time(page, base, officer)
    for lang, said in (("zh-CN", "请求有误（每次消费上限 per_visit_cap）："
                                 "400.00 超过了一张券的总额 300.00。"),
                       ("en", "The request was not understood (per_visit_cap): 400.00 is "
                              "more than a voucher holds (300.00).")):
        await page.goto(f"{base}/admin/programs?lang={lang}")
        form = page.locator("#program-form")
        await form.locator("input[name=name]").fill("心愿券 Wish voucher")
        await form.locator("input[name=face_value]").fill("300")
        await form.locator("input[name=per_visit_cap]").fill("400")
        await form.locator("input[name=valid_from]").fill(str(date.today()))
        await form.locator("input[name=valid_until]").fill(
            str(date.today() + timedelta(days=30)))
        await form.locator("button[type=submit]").click()
        await expect(form.locator(".error")).to_contain_text(said)
        await _shot(page, lang, "program-refused")
    assert await world.client.app[SERVICES].pool.fetchval("SELECT count(*) FROM programs") == 0
    await context.close()


async def _unnamed_actions(database_url: str) -> set[str]:
    """The routes in the audit log that have no Chinese name (`pos` commands aside)."""
    named = {f"{spec.method} {spec.path}" for table in ROUTE_TABLES for spec in table.specs
             if spec.action is not None}
    conn = await asyncpg.connect(database_url)
    try:
        actions = await conn.fetch("SELECT DISTINCT action FROM audit_log")
    finally:
        await conn.close()
    routes = {row["action"].partition(": ")[0] for row in actions}
    assert "GET /v1/settlements/{id}/export/{format}" in routes
    return {route for route in routes if not route.startswith("pos ")} - named


async def _spent_yesterday(world: World, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT v.id::text AS voucher, v.program_id::text AS program, t.id::text AS till, "
            "t.merchant_id::text AS merchant FROM vouchers v, tills t LIMIT 1")
        assert row is not None
        shop = Shop(row["merchant"], row["till"], "")
        await insert_synthetic_redemptions(conn, shop=shop, program_id=row["program"],
                                           voucher_id=row["voucher"], count=2, amount=4500)
    finally:
        await conn.close()


# ------------------------------------------------------------------------------------------
# every page, in both languages, on a laptop and a tablet


PAGES = ("/admin/", "/admin/programs", "/admin/programs/{program}", "/admin/merchants",
         "/admin/tills/{till}", "/admin/vouchers?q=ben-1", "/admin/vouchers/{voucher}",
         "/admin/reports", "/admin/reports/{program}", "/admin/settlement", "/admin/audit",
         "/admin/accounts", "/admin/tokens", "/admin/password")


async def test_every_console_page_in_both_languages(
    browser: Browser, world: World, client: TestClient[Any, Any]  # noqa: F811
) -> None:
    shop = await world.shop("阳光母婴店 Sunshine Baby")
    program = await world.program(
        name="婴儿券 Baby voucher", restrictions=["categories"], face_value=50000,
        rule_settings={"categories": {"allowed": ["diapers", "infant_formula"]}},
        partners=[shop])
    resp = await client.post(f"/v1/programs/{program}/vouchers", json={"beneficiaries": [
        {"ref": f"ben-{i}"} for i in range(1, 4)]}, headers={
            "Authorization": "Bearer adm_test_" + "x" * 32})
    issued = (await resp.json())["vouchers"]
    voucher = issued[0]["id"]
    # Something to show: a sale (for the charts), a settled batch, a large top-up waiting.
    sale = await client.post("/v1/redemptions", json={
        "token": issued[1]["token"], "basket": basket(("diapers", 2, 6000),
                                                      ("infant_formula", 1, 18000))},
        headers=shop.headers(new_key()))
    assert sale.status == 201
    await world.post("/v1/settlements", {"period_end": datetime.now(UTC).isoformat(),
                                         "by": "finance"})
    officer = await person(world, "li.officer", "officer")
    held = await client.post(f"/v1/vouchers/{voucher}/credits", json={"amount": 150000},
                             headers={**officer.token_headers, "Idempotency-Key": "t1"})
    assert held.status == 202
    admin = await person(world, "chen.admin", "admin")
    base = str(client.make_url("")).rstrip("/")
    ids = {"program": program, "till": shop.till_id, "voucher": voucher}
    for lang in ("zh-CN", "en"):
        context = await _context(browser, lang)
        page = await context.new_page()
        errors = console_errors(page)
        await page.goto(f"{base}/admin/login?lang={lang}")
        await _shot(page, lang, "00-login")
        if lang == "zh-CN":
            await _sign_in_first_time(page, base, admin)
        else:
            await page.fill("input[name=login]", admin.login)
            await page.fill("input[name=password]", NEW_PASSWORD)
            await page.click("#sign-in button[type=submit]")
        for number, path in enumerate(PAGES, start=1):
            url = base + path.format(**ids)
            await page.goto(url + ("&" if "?" in url else "?") + f"lang={lang}")
            await expect(page.locator("html")).to_have_attribute("lang", lang)
            name = path.strip("/").split("?")[0].replace("/", "-").replace("{", "") \
                .replace("}", "") or "admin"
            await _shot(page, lang, f"{number:02}-{name}")
            text = await page.locator("main").inner_text()
            for raw in ("infant_formula", "fruit_vegetables", "status_", "role_", "None"):
                assert raw not in text, (path, raw)
        # The program page on a tablet in portrait.
        await page.set_viewport_size({"width": 768, "height": 1024})
        await page.goto(f"{base}/admin/programs/{program}?lang={lang}")
        await _shot(page, lang, "tablet-program")
        assert errors == []
        await context.close()


async def test_a_page_the_console_cannot_show_is_a_page_in_its_language(
    browser: Browser, world: World  # noqa: F811
) -> None:
    """A page that is not there, or not for one's role, is a console page with the sentence
    in the console's language and the request's reference, never the JSON a script gets."""
    base = str(world.client.make_url("")).rstrip("/")
    officer = await person(world, "qian.officer", "officer")
    context = await _context(browser)
    page = await context.new_page()
    await _sign_in_first_time(page, base, officer)
    said = {
        "zh-CN": {"/admin/accounts": (403, "无权查看此页",
                                      "这项操作须由管理员办理；您登录的角色是项目专员。"),
                  "/admin/no-such-page": (404, "找不到此页", "这个地址没有任何内容。"),
                  f"/admin/programs/{uuid.uuid4()}": (404, "找不到此页", "没有找到该项目。")},
        "en": {"/admin/accounts": (403, "Not allowed", "This needs an administrator; you are "
                                   "signed in as program officer."),  # the console's name
               "/admin/no-such-page": (404, "Page not found",
                                       "There is nothing at this address."),
               f"/admin/programs/{uuid.uuid4()}": (404, "Page not found",
                                                   "No program was found.")}}
    for lang, pages in said.items():
        for number, (path, (status, title, sentence)) in enumerate(pages.items(), start=1):
            response = await page.goto(f"{base}{path}?lang={lang}")
            assert response is not None and response.status == status, path
            assert "text/html" in (await response.header_value("content-type") or "")
            await expect(page.locator("html")).to_have_attribute("lang", lang)
            await expect(page.locator("h1")).to_have_text(title)
            await expect(page.locator("#problem .error")).to_have_text(sentence)
            await expect(page.locator("#problem code")).to_have_text(re.compile(r"^\w{8,}$"))
            await _shot(page, lang, f"refused-{number}-{status}")
        await page.click("#problem a[href='/admin/']")
        await expect(page).to_have_url(re.compile(r"/admin/$"))
    # A script asking for JSON still gets the problem.
    answer = await page.evaluate("""async () => {
        const r = await fetch('/admin/no-such-page', {headers: {Accept: 'application/json'}});
        return [r.status, r.headers.get('content-type').split(';')[0]];
    }""")
    assert answer == [404, "application/problem+json"]
    await context.close()
