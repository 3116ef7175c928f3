"""The purpose rules, through the real API: eligible and ineligible lines with the reasons a
cashier reads, mixed baskets, deny-wins across rules, decisions kept with the redemption."""

from __future__ import annotations

from typing import Any

import pytest
from pos_plugins.books import is_isbn13

from tests.conftest import Shop, World, basket, new_key

VALID_ISBN = "9780306406157"
WRONG_CHECK_DIGIT = "9780306406158"
VALID_979 = "9791034304653"


def line(category: str, price: int, description: str | None = None, gtin: str | None = None,
         quantity: int = 1) -> dict[str, Any]:
    out: dict[str, Any] = {"sku": f"SKU-{category}-{price}", "category": category,
                           "description": description or category, "quantity": quantity,
                           "unit_price": price}
    if gtin is not None:
        out["gtin"] = gtin
    return out


async def setup(world: World, restrictions: list[str], **program: Any
                ) -> tuple[Shop, dict[str, str]]:
    shop = await world.shop()
    program_id = await world.program(restrictions=restrictions, partners=[shop], **program)
    (voucher,) = await world.issue(program_id)
    return shop, voucher


async def quote(world: World, shop: Shop, voucher: dict[str, str], *lines: dict[str, Any],
                lang: str | None = None, **extra: Any) -> tuple[int, dict[str, Any]]:
    """A quote; its reasons in Chinese unless `lang` asks otherwise (Accept-Language)."""
    headers = shop.headers() | ({"Accept-Language": lang} if lang else {})
    resp = await world.client.post(
        "/v1/quotes", json={"token": voucher["token"], "basket": basket(*lines), **extra},
        headers=headers)
    return resp.status, await resp.json()


def verdicts(q: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(entry["description"], entry["eligible"]) for entry in q["lines"]]


def test_isbn13_check_digit() -> None:
    assert is_isbn13(VALID_ISBN) and is_isbn13(VALID_979)
    assert not is_isbn13(WRONG_CHECK_DIGIT)
    assert not is_isbn13("4006381333931")  # a valid EAN-13, but not Bookland (978/979)
    assert not is_isbn13("978030640615")   # 12 digits


async def test_nutrition_milk_and_sweets_only_the_milk(world: World) -> None:
    shop, voucher = await setup(world, ["nutrition"], face_value=15000,
                                rule_settings={"nutrition": {"exclude": ["sweets"]}})
    status, q = await quote(world, shop, voucher, line("milk", 4500, "Fresh milk 1L"),
                            line("sweets", 1200, "Toffee"), lang="en")
    assert status == 200, q
    assert verdicts(q) == [("Fresh milk 1L", True), ("Toffee", False)]
    assert (q["eligible_total"], q["covered"], q["remainder"]) == (4500, 4500, 1200)
    assert q["lines"][0]["rule"] == "nutrition"
    assert "covered by this nutrition voucher" in q["lines"][0]["reason"]
    assert q["lines"][1]["reason"] == "Toffee: this program does not pay for sweets, " \
        "chocolate and desserts."
    assert (q["lines"][1]["reason_code"], q["lines"][1]["reason_params"]["category"]) == \
        ("excluded", "sweets")
    # The same basket for a till that asks in Chinese (or says nothing): labels, not codes.
    _, zh = await quote(world, shop, voucher, line("milk", 4500, "纯牛奶"),
                        line("sweets", 1200, "太妃糖"))
    assert zh["lines"][0]["reason"] == "纯牛奶：牛奶可用本营养券支付。"  # noqa: RUF001
    assert zh["lines"][1]["reason"] == "太妃糖：本项目不支付糖果甜点。"  # noqa: RUF001
    assert zh["lines"][1]["reason_code"] == "excluded"


async def test_nutrition_never_alcohol_or_tobacco(world: World) -> None:
    # Even a program that tries to allow them only narrows the food set.
    shop, voucher = await setup(world, ["nutrition"],
                                rule_settings={"nutrition": {"only": ["milk", "alcohol"]}})
    status, q = await quote(world, shop, voucher, line("milk", 500), line("alcohol", 3000),
                            line("tobacco", 2000), line("fruit_vegetables", 800))
    assert status == 200, q
    assert verdicts(q) == [("milk", True), ("alcohol", False), ("tobacco", False),
                           ("fruit_vegetables", False)]
    assert q["lines"][1]["reason"] == "alcohol：任何券都不能用于酒类。"  # noqa: RUF001
    assert q["lines"][1]["rule"] == "never_list"


async def test_books_isbn_decides_what_counts_as_a_book(world: World) -> None:
    shop, voucher = await setup(world, ["books"])
    status, q = await quote(
        world, shop, voucher,
        line("books", 3000, "Picture book", gtin=VALID_ISBN),
        line("books", 2500, "Misprinted barcode", gtin=WRONG_CHECK_DIGIT),
        line("books", 1500, "Notebook scanned as a book", gtin="4006381333931"),
        line("books", 1000, "Second-hand book"),
        line("stationery", 800, "Pencils"),
        line("books", 2000, "Novel", gtin=VALID_979), lang="en")
    assert status == 200, q
    assert verdicts(q) == [("Picture book", True), ("Misprinted barcode", False),
                           ("Notebook scanned as a book", False), ("Second-hand book", True),
                           ("Pencils", False), ("Novel", True)]
    assert f"barcode {WRONG_CHECK_DIGIT} is not a valid ISBN" in q["lines"][1]["reason"]
    assert q["eligible_total"] == 6000


async def test_baby_goods(world: World) -> None:
    shop, voucher = await setup(world, ["baby"])
    status, q = await quote(world, shop, voucher, line("infant_formula", 9000),
                            line("diapers", 6000), line("baby_clothing", 5000),
                            line("baby_shoes", 4000), line("baby_hats", 2000),
                            line("toys", 3000), line("alcohol", 3000), lang="en-US")
    assert status == 200, q
    assert [ok for _, ok in verdicts(q)] == [True] * 5 + [False, False]
    assert q["lines"][5]["reason"] == "toys: this baby goods voucher does not pay for toys."


async def test_study_supplies(world: World) -> None:
    shop, voucher = await setup(world, ["study"], per_visit_cap=10000)
    status, q = await quote(world, shop, voucher, line("stationery", 6000),
                            line("school_bags", 5000), line("sports_goods", 2000),
                            line("books", 3000), line("snacks", 500))
    assert status == 200, q
    assert [ok for _, ok in verdicts(q)] == [True, True, True, False, False]
    assert (q["eligible_total"], q["covered"]) == (13000, 10000)


async def test_medicine(world: World) -> None:
    shop, voucher = await setup(world, ["medicine"])
    status, q = await quote(world, shop, voucher, line("medicine", 3000),
                            line("medical_consumables", 1200),
                            line("health_supplements", 8000))
    assert status == 200, q
    assert [ok for _, ok in verdicts(q)] == [True, True, False]


async def test_meals_need_the_identity_check(world: World) -> None:
    shop, voucher = await setup(world, ["meals"], require_identity=True, face_value=3000)
    for path in ("/v1/quotes", "/v1/redemptions"):
        resp = await world.client.post(
            path, json={"token": voucher["token"], "basket": basket(line("meals", 800))},
            headers=shop.headers(new_key()))
        problem = await resp.json()
        assert resp.status == 422, problem
        assert resp.content_type == "application/problem+json"
        assert problem["code"] == "identity_check_required"
    assert (await world.voucher(voucher["id"]))["balance"] == 3000  # nothing written

    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "identity_confirmed": True,
                                 "basket": basket(line("meals", 800), line("alcohol", 900))},
        headers=shop.headers(new_key()))
    data = await resp.json()
    assert resp.status == 201, data
    assert (data["covered"], data["remainder"]) == (800, 900)


async def test_meals_only_at_the_programs_canteens(world: World) -> None:
    canteen, other = await world.shop("Community canteen"), await world.shop("Corner shop")
    program = await world.program(restrictions=["meals"], partners=[canteen, other],
                                  rule_settings={"meals": {"canteens": [canteen.merchant_id]}})
    (voucher,) = await world.issue(program)
    status, q = await quote(world, canteen, voucher, line("meals", 800, "Lunch set"))
    assert status == 200 and verdicts(q) == [("Lunch set", True)]
    status, q = await quote(world, other, voucher, line("meals", 800, "Lunch set"))
    assert (status, q["code"]) == (422, "no_eligible_lines")
    assert q["lines"][0]["reason"] == "Lunch set：本店不是该项目登记的助餐点。"  # noqa: RUF001
    assert q["detail"] == "购物篮里没有这张券可以支付的商品。"


async def test_any_and_categories(world: World) -> None:
    shop, voucher = await setup(world, ["any"])
    status, q = await quote(world, shop, voucher, line("winter_goods", 9000),
                            line("household", 1000))
    assert status == 200 and [ok for _, ok in verdicts(q)] == [True, True]
    # `any` pays for everything except what no voucher may pay for.
    status, q = await quote(world, shop, voucher, line("household", 1000),
                            line("tobacco", 3000), line("lottery", 1000), line("gift_card", 500))
    assert status == 200 and [ok for _, ok in verdicts(q)] == [True, False, False, False]
    assert {entry["rule"] for entry in q["lines"][1:]} == {"never_list"}
    assert q["covered"] == 1000
    shop, voucher = await setup(world, ["categories"],
                                rule_settings={"categories": {"allowed": ["winter_goods"]}})
    status, q = await quote(world, shop, voucher, line("winter_goods", 9000),
                            line("household", 1000))
    assert status == 200 and [ok for _, ok in verdicts(q)] == [True, False]


async def test_deny_wins_across_rules_and_is_stored(world: World) -> None:
    # study and categories both decide; a line either rule refuses is refused by it.
    shop, voucher = await setup(
        world, ["study", "categories"],
        rule_settings={"categories": {"allowed": ["stationery", "books"]}})
    resp = await world.client.post(
        "/v1/redemptions",
        json={"token": voucher["token"], "basket": basket(
            line("stationery", 3000, "Pens"), line("books", 2000, "Atlas"),
            line("sports_goods", 4000, "Football"))},
        headers=shop.headers(new_key()))
    data = await resp.json()
    assert resp.status == 201, data
    got = [(entry["description"], entry["eligible"], entry["rule"]) for entry in data["lines"]]
    assert got == [("Pens", True, "study"), ("Atlas", False, "study"),
                   ("Football", False, "categories")]
    assert data["covered"] == 3000

    stored = await (await world.client.get(f"/v1/redemptions/{data['id']}",
                                           headers=shop.headers())).json()
    assert [(entry["rule"], entry["eligible"], entry["reason"]) for entry in stored["lines"]] \
        == [(entry["rule"], entry["eligible"], entry["reason"]) for entry in data["lines"]]


async def test_nothing_eligible_is_a_problem_with_reasons(world: World) -> None:
    shop, voucher = await setup(world, ["books"])
    status, q = await quote(world, shop, voucher, line("alcohol", 3000, "Rice wine"),
                            lang="en")
    assert (status, q["code"]) == (422, "no_eligible_lines")
    # The core's never-list speaks first, whatever the program's rule would have said.
    assert q["lines"][0]["reason"] == "Rice wine: no voucher pays for alcohol."
    assert (q["lines"][0]["rule"], q["lines"][0]["reason_code"]) == ("never_list", "never_paid")
    assert q["detail"] == "Nothing in this basket can be paid with this voucher."


@pytest.mark.parametrize("rule", ["nutrition", "books", "baby", "study", "meals", "medicine",
                                  "approved_products", "any", "categories"])
async def test_every_rule_is_installed(world: World, rule: str) -> None:
    await world.program(restrictions=[rule])
