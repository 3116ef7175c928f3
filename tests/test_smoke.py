from __future__ import annotations

from tests.conftest import World, basket, new_key


async def test_wish_voucher_covers_100_of_a_130_basket(world: World) -> None:
    shop = await world.shop("Stationery")
    program = await world.program(
        restrictions=["categories"], face_value=30000, per_visit_cap=10000,
        rule_settings={"categories": {"allowed": ["stationery"]}}, partners=[shop])
    (voucher,) = await world.issue(program)
    body = {"token": voucher["token"], "basket": basket(("stationery", 1, 13000))}
    resp = await world.client.post("/v1/redemptions", json=body, headers=shop.headers(new_key()))
    data = await resp.json()
    assert resp.status == 201, data
    assert (data["covered"], data["remainder"], data["balance_after"]) == (10000, 3000, 20000)
