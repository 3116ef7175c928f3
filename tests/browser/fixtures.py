"""Fixtures for the till's browser tests; test modules import the ones they use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from tests.browser.harness import VIEWPORTS, console_errors, launch
from tests.conftest import ADMIN, Shop, World


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    async with launch(playwright) as b:
        yield b


@dataclass
class Sale:
    """A shop with a till, a wish-voucher-like program and one voucher, through the API."""

    shop: Shop
    program_id: str
    voucher: dict[str, str]


async def wish_sale(world: World) -> Sale:
    shop = await world.shop("乡镇文具店 Township Stationery")
    program = await world.program(
        name="心愿券 Wish voucher", restrictions=["categories"], face_value=30000,
        per_visit_cap=10000,
        rule_settings={"categories": {"allowed": ["stationery", "books"]}}, partners=[shop])
    (voucher,) = await world.issue(program)
    return Sale(shop, program, voucher)


async def pairing_code(client: TestClient[Any, Any], till_id: str) -> str:
    resp = await client.post(f"/v1/tills/{till_id}/pairing-codes", headers=ADMIN)
    data = await resp.json()
    assert resp.status == 201, data
    return str(data["code"])


@dataclass
class TillPage:
    context: BrowserContext
    page: Page
    url: str
    errors: list[str]


@asynccontextmanager
async def open_till(browser: Browser, client: TestClient[Any, Any], lang: str,
                    layout: str = "landscape", *, offline_app: bool = False,
                    tablet_zone: str = "Asia/Shanghai") -> AsyncIterator[TillPage]:
    """The till app in a fresh browser profile whose browser asks for `lang`, on a tablet
    whose clock is set to `tablet_zone`.

    With `offline_app` the app's service worker runs (the offline tests need it); otherwise
    it is blocked, because Playwright's request routing does not see what a service worker
    fetches, and the other tests hold back or drop requests through it."""
    width, height = VIEWPORTS[layout]
    context = await browser.new_context(
        locale=lang, viewport={"width": width, "height": height}, device_scale_factor=1,
        timezone_id=tablet_zone, service_workers="allow" if offline_app else "block")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    errors = console_errors(page)
    url = str(client.make_url("/till/"))
    try:
        await page.goto(url)
        yield TillPage(context, page, url, errors)
    finally:
        await context.close()
