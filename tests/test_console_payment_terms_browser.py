# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""What the console shows of a program's money and a merchant's payment, in a real browser:
a monthly allowance on the program's page and in the list (not a face value of 0.00), and
a payment file the service will not make (no payout account yet) explained in the batch's
row, with the payout account set on the merchants page by finance."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from pos.config import Config
from tests.accounts_support import Person, person
from tests.browser.fixtures import browser, playwright  # noqa: F401 - fixtures
from tests.browser.harness import console_errors
from tests.conftest import World, basket, make_config, new_key
from tests.settlement_support import act
from tests.test_console_browser import _sign_in_first_time


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return make_config(database_url, tmp_path / "data",
                       POS_PLUGINS_EXPORT_PAIN001_DEBTOR_ACCOUNT="DE89370400440532013000",
                       POS_PLUGINS_EXPORT_PAIN001_DEBTOR_NAME="温暖基金会 Warmth Foundation")


async def _signed_in(browser: Browser, base: str, who: Person,  # noqa: F811
                     lang: str = "zh-CN") -> tuple[BrowserContext, Page]:
    context = await browser.new_context(locale=lang, viewport={"width": 1280, "height": 800},
                                        timezone_id="Asia/Shanghai", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await _sign_in_first_time(page, base, who)
    return context, page


async def test_a_monthly_allowance_is_shown_on_the_program_page_and_in_the_list(
    browser: Browser, world: World  # noqa: F811
) -> None:
    program = await world.program(
        name="营养关爱券 Nutrition care", restrictions=["categories"],
        rule_settings={"categories": {"allowed": ["food", "milk"]}},
        valid_from="2030-01-01", valid_until="2030-12-31",
        allowance={"amount": 30000, "count": 12, "rollover": False})
    base = str(world.client.make_url("")).rstrip("/")
    officer = await person(world, "li.officer", "officer")
    context, page = await _signed_in(browser, base, officer)
    errors = console_errors(page)
    await page.goto(f"{base}/admin/programs/{program}")
    facts = page.locator("dl.facts")
    await expect(facts).to_contain_text("每月额度")
    await expect(facts).to_contain_text("300.00 CNY × 12 个月")
    await page.goto(f"{base}/admin/programs")
    await expect(page.locator("tr", has_text="营养关爱券")).to_contain_text("每月 300.00 CNY")
    await page.goto(f"{base}/admin/programs/{program}?lang=en")
    await expect(page.locator("dl.facts")).to_contain_text("300.00 CNY a month × 12 months")
    assert errors == []
    await context.close()


async def test_a_payment_file_that_cannot_be_made_says_why_and_finance_sets_the_account(
    browser: Browser, world: World  # noqa: F811
) -> None:
    shop = await world.shop("惠民超市 Huimin Supermarket")
    program = await world.program(restrictions=["any"], partners=[shop])
    (voucher,) = await world.issue(program)
    sale = await world.client.post("/v1/redemptions", json={
        "token": voucher["token"], "basket": basket(("food", 1, 4500))},
        headers=shop.headers(new_key()))
    assert sale.status == 201
    batch = (await world.post("/v1/settlements", {
        "period_end": datetime.now(UTC).isoformat(), "by": "finance"}))["batches"][0]
    await act(world, batch["id"], "approve")
    base = str(world.client.make_url("")).rstrip("/")
    finance = await person(world, "liu.finance", "finance")
    context, page = await _signed_in(browser, base, finance)

    # No payout account yet: the link says why instead of a download that just fails.
    await page.goto(f"{base}/admin/settlement")
    row = page.locator("#batches tr", has_text="惠民超市")
    downloads: list[object] = []
    page.on("download", lambda d: downloads.append(d))
    await row.locator("a", has_text="pain001").click()
    await expect(row.locator(".export-refusal")).to_contain_text("没有收款账户")
    assert downloads == []

    # Finance records the merchant's account on the merchants page; then the file is made.
    await page.goto(f"{base}/admin/merchants")
    form = page.locator(".merchant", has_text="惠民超市").locator(".payee-form")
    await form.locator("input[name=account_name]").fill("惠民超市有限公司")
    await form.locator("input[name=account_id]").fill("6222020200112233445")
    await form.locator("input[name=agent_bic]").fill("ICBKCNBJXXX")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".merchant", has_text="惠民超市")).to_contain_text(
        "6222020200112233445")
    await page.goto(f"{base}/admin/settlement")
    async with page.expect_download() as download_info:
        await row.locator("a", has_text="pain001").click()
    xml_file = await (await download_info.value).path()
    root = ET.fromstring(  # noqa: S314 - our own export
        await asyncio.to_thread(xml_file.read_bytes))
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
    assert root.findtext(".//p:Cdtr/p:Nm", namespaces=ns) == "惠民超市有限公司"
    assert root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=ns) == "45.00"
    await expect(row.locator(".export-refusal")).to_be_hidden()
    await context.close()


@pytest.mark.parametrize(("lang", "said"), [
    ("zh-CN", "截至这一天没有需要结算的消费，没有生成批次。"),
    ("en", "Nothing was spent and left unsettled up to that day: no batch was made.")])
async def test_a_settlement_run_with_nothing_to_settle_says_so(
    browser: Browser, world: World, lang: str, said: str  # noqa: F811
) -> None:
    base = str(world.client.make_url("")).rstrip("/")
    finance = await person(world, "wang.finance", "finance")
    context, page = await _signed_in(browser, base, finance, lang)
    await page.goto(f"{base}/admin/settlement?lang={lang}")
    await page.click("#settle-form button[type=submit]")
    await expect(page.locator("#settle-form .notice")).to_have_text(said)
    await expect(page.locator("#settle-form .error")).to_be_hidden()
    await context.close()


@pytest.mark.parametrize(("lang", "said"), [
    ("zh-CN", "填写的内容有误，请检查。 「每张券面值（元）」须是金额，例如 12.50。"),
    ("en", "Face value per voucher (yuan): type an amount such as 12.50.")])
async def test_a_number_the_form_cannot_read_is_named_by_its_field(
    browser: Browser, world: World, lang: str, said: str  # noqa: F811
) -> None:
    """"abc" as a face value is refused in the browser, before anything is sent, with the
    field named as its label names it."""
    base = str(world.client.make_url("")).rstrip("/")
    officer = await person(world, "li.officer", "officer")
    context, page = await _signed_in(browser, base, officer, lang)
    await page.goto(f"{base}/admin/programs?lang={lang}")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    await page.fill("#program-form input[name=name]", "Bad figures")
    await page.fill("#program-form input[name=valid_from]", "2030-01-01")
    await page.fill("#program-form input[name=valid_until]", "2030-12-31")
    await page.fill("#program-form input[name=face_value]", "abc")
    await page.click("#program-form button[type=submit]")
    await expect(page.locator("#program-form .error")).to_have_text(said)
    assert sent == []
    await context.close()
