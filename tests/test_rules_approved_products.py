"""`approved_products`: the list uploaded as CSV through the admin API, versioned, replaced
whole; each decision carries (and each redemption line keeps) the version it was made
against, also while the list is replaced under running redemptions."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import ADMIN, Shop, World, basket, new_key


def gtin13(body: str) -> str:
    """A GTIN-13 with its check digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


MILK = gtin13("690123456789")
BREAD = gtin13("690123456790")
CANDY = gtin13("690123456791")


def scanned(gtin: str | None, description: str, price: int = 1000) -> dict[str, Any]:
    line: dict[str, Any] = {"sku": description, "category": "grains", "quantity": 1,
                            "description": description, "unit_price": price}
    if gtin:
        line["gtin"] = gtin
    return line


async def upload(world: World, program_id: str, text: str | bytes, status: int = 201,
                 content_type: str = "text/csv") -> dict[str, Any]:
    resp = await world.client.put(
        f"/v1/programs/{program_id}/approved-products",
        data=text.encode() if isinstance(text, str) else text,
        headers={**ADMIN, "Content-Type": content_type})
    data: dict[str, Any] = await resp.json()
    assert resp.status == status, data
    return data


async def setup(world: World, face_value: int = 30000) -> tuple[Shop, str, dict[str, str]]:
    shop = await world.shop()
    program = await world.program(restrictions=["approved_products"], partners=[shop],
                                  face_value=face_value)
    (voucher,) = await world.issue(program)
    return shop, program, voucher


async def test_listed_products_only_with_the_list_version(world: World) -> None:
    shop, program, voucher = await setup(world)
    resp = await world.client.post(
        "/v1/quotes", json={"token": voucher["token"], "basket": basket(scanned(MILK, "Milk"))},
        headers=shop.headers())
    problem = await resp.json()
    assert (resp.status, problem["code"]) == (422, "no_eligible_lines")
    assert problem["lines"][0]["reason"] == "Milk：本项目还没有核准商品清单。"  # noqa: RUF001

    saved = await upload(world, program, f"gtin,description\n{MILK},Milk 1L\n{BREAD},Bread\n")
    assert (saved["version"], saved["items"]) == (1, 2)

    resp = await world.client.post(
        "/v1/redemptions",
        json={"token": voucher["token"], "basket": basket(
            scanned(MILK, "Milk"), scanned(CANDY, "Candy"), scanned(None, "Loose apples"))},
        headers={**shop.headers(new_key()), "Accept-Language": "en"})
    data = await resp.json()
    assert resp.status == 201, data
    assert [entry["eligible"] for entry in data["lines"]] == [True, False, False]
    assert data["lines"][0]["reason"] == "Milk: on the approved product list (version 1)."
    assert data["lines"][1]["reason"] == "Candy: not on the approved product list (version 1)."
    assert "scan the barcode" in data["lines"][2]["reason"]
    assert data["lines"][0]["detail"] == {"approved_products": {"list_version": 1}}

    stored = await (await world.client.get(f"/v1/redemptions/{data['id']}",
                                           headers=ADMIN)).json()
    assert [entry["detail"] for entry in stored["lines"]] == \
        [{"approved_products": {"list_version": 1}}] * 3

    await upload(world, program, f"{CANDY}\n")
    current = await (await world.client.get(f"/v1/programs/{program}/approved-products",
                                            headers=ADMIN)).json()
    assert (current["version"], current["items"]) == (2, 1)
    resp = await world.client.post(
        "/v1/quotes", json={"token": voucher["token"], "basket": basket(
            scanned(MILK, "Milk"), scanned(CANDY, "Candy"))}, headers=shop.headers())
    q = await resp.json()
    assert [entry["eligible"] for entry in q["lines"]] == [False, True]
    assert q["lines"][1]["detail"] == {"approved_products": {"list_version": 2}}


async def test_a_bad_file_changes_nothing(world: World) -> None:
    _, program, _ = await setup(world)
    await upload(world, program, f"{MILK}\n")
    wrong = MILK[:-1] + str((int(MILK[-1]) + 1) % 10)
    problem = await upload(world, program, f"{BREAD}\n{wrong},Bad\n", status=422)
    assert problem["code"] == "validation_error" and problem["row"] == 2
    await upload(world, program, "gtin\n", status=422)
    problem = await upload(world, program, b"\xff\xfe", status=422)
    assert problem["detail"] == "清单不是 UTF-8 文本，未做任何更改。"  # noqa: RUF001
    problem = await upload(world, program, f"{MILK}\n", status=415,
                           content_type="application/json")
    assert problem["code"] == "unsupported_media_type"
    current = await (await world.client.get(f"/v1/programs/{program}/approved-products",
                                            headers=ADMIN)).json()
    assert current["version"] == 1


async def test_only_the_admin_uploads(world: World) -> None:
    shop, program, _ = await setup(world)
    resp = await world.client.put(f"/v1/programs/{program}/approved-products",
                                  data=f"{MILK}\n", headers={**shop.headers(),
                                                             "Content-Type": "text/csv"})
    assert resp.status == 403
    assert (await resp.json())["code"] == "forbidden"
    resp = await world.client.put("/v1/programs/00000000-0000-0000-0000-000000000000/"
                                  "approved-products", data=f"{MILK}\n",
                                  headers={**ADMIN, "Content-Type": "text/csv"})
    assert resp.status == 404 and (await resp.json())["code"] == "not_found"


async def test_list_replaced_while_redemptions_run(world: World) -> None:
    """Odd versions list only MILK, even versions only BREAD. Each redemption's lines must
    agree with the one version they name: exactly one line eligible, never a mix."""
    shop = await world.shop()
    program = await world.program(restrictions=["approved_products"], partners=[shop],
                                  face_value=100000)
    vouchers = await world.issue(program, count=12)
    await upload(world, program, f"{MILK}\n")

    async def uploads() -> None:
        for i in range(8):
            await upload(world, program, f"{BREAD if i % 2 == 0 else MILK}\n")

    async def redeem(voucher: dict[str, str]) -> dict[str, Any]:
        resp = await world.client.post(
            "/v1/redemptions", json={"token": voucher["token"], "basket": basket(
                scanned(MILK, "Milk", 700), scanned(BREAD, "Bread", 300))},
            headers=shop.headers(new_key()))
        data: dict[str, Any] = await resp.json()
        assert resp.status == 201, data
        return data

    results = await asyncio.gather(uploads(), *(redeem(v) for v in vouchers))
    versions = set()
    for data in results[1:]:
        stored = await (await world.client.get(f"/v1/redemptions/{data['id']}",
                                               headers=ADMIN)).json()
        (version,) = {entry["detail"]["approved_products"]["list_version"]
                      for entry in stored["lines"]}
        versions.add(version)
        milk, bread = (entry["eligible"] for entry in stored["lines"])
        assert (milk, bread) == ((True, False) if version % 2 == 1 else (False, True))
        assert stored["covered"] == (700 if version % 2 == 1 else 300)
    assert versions <= set(range(1, 10))


async def test_a_list_larger_than_an_ordinary_request(world: World) -> None:
    shop, program, voucher = await setup(world)
    gtins = [gtin13(f"69{n:010d}") for n in range(8000)]  # ~120 kB, in many chunks
    saved = await upload(world, program, "gtin,description\n" + "".join(
        f"{g},Product {i}\n" for i, g in enumerate(gtins)))
    assert saved["items"] == 8000
    resp = await world.client.post(
        "/v1/quotes", json={"token": voucher["token"], "basket": basket(
            scanned(gtins[-1], "Last product"))}, headers=shop.headers())
    assert resp.status == 200 and (await resp.json())["lines"][0]["eligible"] is True
