"""Several vouchers, one basket, through the real API and PostgreSQL: exact parts, one
transaction, refusals that name the voucher, idempotency, void, reports and settlement."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from pos.config import Config
from pos.storage.ledger import verify_ledger
from tests.conftest import ADMIN, Shop, World, basket, new_key
from tests.settlement_support import pos_command, settle

STATIONERY_250 = basket(("stationery", 1, 15000), ("stationery", 2, 5000))


async def wish_vouchers(world: World, count: int = 3) -> tuple[Shop, str, list[dict[str, str]]]:
    shop = await world.shop("Township stationery")
    program = await world.program(
        name="Wish voucher", restrictions=["categories"], face_value=30000, per_visit_cap=10000,
        rule_settings={"categories": {"allowed": ["stationery", "sports_goods"]}},
        partners=[shop])
    return shop, program, await world.issue(program, count)


async def post(world: World, shop: Shop, path: str, body: dict[str, Any],
               key: str | None = None) -> tuple[int, dict[str, Any]]:
    resp = await world.client.post(path, json=body, headers=shop.headers(key))
    return resp.status, await resp.json()


async def sell(world: World, shop: Shop, vouchers: list[dict[str, str]], lines: dict[str, Any],
               key: str | None = None, **extra: Any) -> tuple[int, dict[str, Any]]:
    refs = [{"token": v["token"]} if "token" in v else {"code": v["code"]} for v in vouchers]
    return await post(world, shop, "/v1/redemptions",
                      {"vouchers": refs, "basket": lines, **extra}, key or new_key())


async def balances(world: World, vouchers: list[dict[str, str]]) -> list[int]:
    return [(await world.voucher(v["id"]))["balance"] for v in vouchers]


async def test_three_children_pay_exactly_the_basket(world: World,
                                                     db: asyncpg.Connection[Any]) -> None:
    shop, program, vouchers = await wish_vouchers(world)
    # One at a time, each voucher is quoted against the whole basket: 300 for a 250 basket.
    # That was the only way before; it is still three separate sales.
    singles = [await post(world, shop, "/v1/quotes",
                          {"token": v["token"], "basket": STATIONERY_250}) for v in vouchers]
    assert sum(q["covered"] for _, q in singles) == 30000

    status, q = await post(world, shop, "/v1/quotes", {
        "vouchers": [{"token": v["token"]} for v in vouchers], "basket": STATIONERY_250})
    assert status == 200, q
    assert (q["covered"], q["remainder"]) == (25000, 0)
    assert [v["part"] for v in q["vouchers"]] == [10000, 10000, 5000]
    assert [v["balance_after"] for v in q["vouchers"]] == [20000, 20000, 25000]

    status, r = await sell(world, shop, vouchers, STATIONERY_250)
    assert status == 201, r
    assert (r["basket_total"], r["covered"], r["remainder"]) == (25000, 25000, 0)
    assert [(v["position"], v["id"], v["part"], v["balance_after"]) for v in r["vouchers"]] == [
        (1, vouchers[0]["id"], 10000, 20000), (2, vouchers[1]["id"], 10000, 20000),
        (3, vouchers[2]["id"], 5000, 25000)]
    first, second = r["lines"]
    assert first["covered"] == 15000 and second["covered"] == 10000
    assert sum(p["amount"] for line in r["lines"] for p in line["parts"]) == 25000
    assert await balances(world, vouchers) == [20000, 20000, 25000]

    # One redemption and one balanced ledger movement per voucher, under its program.
    rows = await db.fetch(
        "SELECT r.voucher_id::text, r.covered, r.remainder, r.program_id::text, "
        "(SELECT sum(amount) FROM ledger_entries e WHERE e.redemption_id = r.id "
        " AND e.account = 'merchant_payable') AS payable FROM redemptions r ORDER BY covered")
    assert sorted((row["voucher_id"], row["covered"], row["payable"]) for row in rows) == sorted(
        [(vouchers[0]["id"], 10000, 10000), (vouchers[1]["id"], 10000, 10000),
         (vouchers[2]["id"], 5000, 5000)])
    assert {row["program_id"] for row in rows} == {program}
    assert all(check.ok for check in await verify_ledger(db))

    resp = await world.client.get(f"/v1/redemptions/{r['id']}", headers=shop.headers())
    assert resp.status == 200
    assert (await resp.json())["vouchers"] == r["vouchers"]


async def test_nutrition_and_book_voucher_pay_their_own_lines(
        world: World, db: asyncpg.Connection[Any]) -> None:
    shop = await world.shop("Supermarket with a book corner")
    nutrition = await world.program(
        name="Nutrition growth voucher", restrictions=["categories"], face_value=15000,
        rule_settings={"categories": {"allowed": ["dairy", "food"], "denied": ["sweets"]}},
        partners=[shop])
    books = await world.program(name="Book voucher", restrictions=["books"], face_value=10000,
                                partners=[shop])
    (milk_voucher,) = await world.issue(nutrition)
    (book_voucher,) = await world.issue(books)
    lines = basket(("dairy", 2, 4500),
                   {"sku": "B-1", "gtin": "9787020002207", "category": "books",
                    "description": "红楼梦", "quantity": 1, "unit_price": 3800},
                   ("sweets", 1, 1200))
    # Scanned book voucher first: it still pays only the book.
    status, r = await sell(world, shop, [{"code": book_voucher["code"]}, milk_voucher], lines)
    assert status == 201, r
    assert (r["covered"], r["remainder"]) == (12800, 1200)
    assert [(v["program_id"], v["part"]) for v in r["vouchers"]] == [(books, 3800),
                                                                     (nutrition, 9000)]
    milk, book, sweets = r["lines"]
    assert milk["parts"] == [{"position": 2, "voucher_id": milk_voucher["id"], "amount": 9000}]
    assert book["parts"] == [{"position": 1, "voucher_id": book_voucher["id"], "amount": 3800}]
    assert sweets["parts"] == [] and not sweets["eligible"] and "糖果甜点" in sweets["reason"]
    assert [d["eligible"] for d in milk["decisions"]] == [False, True]

    # Each program's report and each funder's figures carry only its own part, per line.
    for program, category, amount in ((nutrition, "dairy", 9000), (books, "books", 3800)):
        resp = await world.client.get(f"/v1/programs/{program}/report", headers=ADMIN)
        report = await resp.json()
        assert report["value"]["redeemed"] == amount
        assert report["by_category"] == [{"category": category, "redemptions": 1,
                                          "amount": amount}]
    # Settlement pays the shop the whole voucher part, booked line by line per program.
    (batch,) = (await settle(world))["batches"]
    assert batch["total"] == 12800
    rows = await db.fetch("SELECT program_id::text, sum(amount)::bigint AS amount "
                          "FROM settlement_lines GROUP BY program_id")
    assert sorted((r["program_id"], r["amount"]) for r in rows) == sorted(
        [(nutrition, 9000), (books, 3800)])


async def test_a_refused_voucher_refuses_the_whole_sale_and_says_which(
        world: World, db: asyncpg.Connection[Any]) -> None:
    shop, _, vouchers = await wish_vouchers(world)
    await db.execute("UPDATE vouchers SET status = 'revoked' WHERE id = $1", vouchers[1]["id"])
    status, r = await sell(world, shop, vouchers, STATIONERY_250)
    assert (status, r["code"]) == (403, "voucher_revoked"), r
    assert r["voucher"] == {"position": 2, "voucher_id": vouchers[1]["id"]}
    assert r["detail"] == "第 2 张券：这张券已作废，不能使用。"  # noqa: RUF001 - zh-CN by default
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0
    assert await db.fetchval("SELECT count(*) FROM sales") == 0
    assert await balances(world, [vouchers[0], vouchers[2]]) == [30000, 30000]

    other = await world.shop("Not a partner")
    status, r = await sell(world, other, [vouchers[0]], STATIONERY_250)
    assert (status, r["code"], r["voucher"]["position"]) == (403, "merchant_not_accepted", 1)

    status, r = await sell(world, shop, [vouchers[0], vouchers[2], vouchers[0]], STATIONERY_250)
    assert (status, r["code"], r["voucher"]["position"]) == (422, "voucher_listed_twice", 3)

    status, r = await sell(world, shop, [vouchers[0]], basket(("stationery", 1, 100),
                                                              currency="USD"))
    assert (status, r["code"]) == (422, "currency_mismatch")

    status, r = await sell(world, shop, [vouchers[0]], basket(("sweets", 1, 100)))
    assert (status, r["code"]) == (422, "no_eligible_lines")

    status, r = await sell(world, shop, [{"code": "NOPE-NOPE-NOPE"}], STATIONERY_250)
    assert r["voucher"]["position"] == 1 and status < 500

    for body in ({"vouchers": [], "basket": STATIONERY_250},
                 {"vouchers": [{"token": vouchers[0]["token"]}] * 11, "basket": STATIONERY_250},
                 {"vouchers": [{"token": vouchers[0]["token"]}], "token": vouchers[0]["token"],
                  "basket": STATIONERY_250},
                 {"vouchers": [{"token": vouchers[0]["token"]}], "amount": 100,
                  "basket": STATIONERY_250},
                 {"vouchers": [{}], "basket": STATIONERY_250}):
        status, r = await post(world, shop, "/v1/redemptions", body, new_key())
        assert (status, r["code"]) == (422, "validation_error"), body
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0


async def test_exhausted_voucher_in_the_list_is_named(world: World,
                                                      db: asyncpg.Connection[Any]) -> None:
    shop, _, vouchers = await wish_vouchers(world, 2)
    for _ in range(3):
        status, _r = await sell(world, shop, [vouchers[1]], STATIONERY_250)
        assert status == 201
        # 100 per shop and day: the next visit is the next day.
        await db.execute("UPDATE redemptions SET created_at = created_at - interval '1 day'")
    status, r = await sell(world, shop, vouchers, STATIONERY_250)
    assert (status, r["code"], r["voucher"]["position"]) == (409, "voucher_exhausted", 2)
    assert await balances(world, vouchers) == [30000, 0]


async def test_a_voucher_the_basket_does_not_need_pays_nothing(world: World,
                                                               db: asyncpg.Connection[Any]) -> None:
    shop, _, vouchers = await wish_vouchers(world, 2)
    status, r = await sell(world, shop, vouchers, basket(("stationery", 1, 6000)))
    assert status == 201, r
    assert [(v["part"], v["redemption_id"] is None) for v in r["vouchers"]] == [(6000, False),
                                                                               (0, True)]
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 1
    assert await balances(world, vouchers) == [24000, 30000]


async def test_idempotent_and_twenty_at_once_with_one_key(world: World,
                                                          db: asyncpg.Connection[Any]) -> None:
    shop, _, vouchers = await wish_vouchers(world)
    key = new_key()
    answers = await asyncio.gather(*(sell(world, shop, vouchers, STATIONERY_250, key)
                                     for _ in range(20)))
    done = [a for s, a in answers if s == 201]
    assert done and all(a == done[0] for a in done)
    assert {s for s, _ in answers} <= {201, 409}
    assert all(a["code"] == "idempotency_in_progress" for s, a in answers if s == 409)
    status, again = await sell(world, shop, vouchers, STATIONERY_250, key)
    assert (status, again) == (201, done[0])
    status, conflict = await sell(world, shop, vouchers[:2], STATIONERY_250, key)
    assert (status, conflict["code"]) == (422, "idempotency_conflict")
    assert await db.fetchval("SELECT count(*) FROM sales") == 1
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 3
    assert await balances(world, vouchers) == [20000, 20000, 25000]


async def test_void_gives_every_part_back(world: World, db: asyncpg.Connection[Any]) -> None:
    shop, _, vouchers = await wish_vouchers(world)
    status, r = await sell(world, shop, vouchers, basket(("stationery", 1, 28000)))
    assert status == 201 and r["remainder"] == 0 and r["covered"] == 28000
    part_id = r["vouchers"][2]["redemption_id"]
    # Voiding by one part's id cancels the whole sale.
    status, v = await post(world, shop, f"/v1/redemptions/{part_id}/void", {}, new_key())
    assert status == 200, v
    assert (v["id"], v["status"], v["restored"]) == (r["id"], "voided", 28000)
    assert [x["restored"] for x in v["vouchers"]] == [10000, 10000, 8000]
    assert await balances(world, vouchers) == [30000, 30000, 30000]
    status, again = await post(world, shop, f"/v1/redemptions/{r['id']}/void", {}, new_key())
    assert (status, again["code"]) == (409, "already_voided")
    assert await db.fetchval("SELECT count(*) FROM redemptions WHERE status = 'voided'") == 3
    assert all(check.ok for check in await verify_ledger(db))
    resp = await world.client.get(f"/v1/redemptions/{r['id']}", headers=ADMIN)
    assert (await resp.json())["status"] == "voided"


async def test_remainder_is_collected_once_and_booked_on_one_part(
        world: World, db: asyncpg.Connection[Any]) -> None:
    shop, _, vouchers = await wish_vouchers(world, 2)
    status, r = await sell(world, shop, vouchers, basket(("stationery", 1, 23000),
                                                         ("sweets", 1, 500)))
    assert status == 201, r
    assert (r["covered"], r["remainder"]) == (20000, 3500)
    rows = await db.fetch("SELECT basket_total, covered, remainder FROM redemptions")
    assert sum(x["basket_total"] for x in rows) == 23500
    assert sum(x["remainder"] for x in rows) == 3500


async def test_fifty_sales_sharing_vouchers_never_overspend(
        world: World, db: asyncpg.Connection[Any], config: Config) -> None:
    shop = await world.shop("Busy market")
    program = await world.program(name="Autism-friendly voucher", face_value=10000,
                                  partners=[shop])
    vouchers = await world.issue(program, 6)
    sales = [[vouchers[(i + j * (1 + i % 2)) % 6] for j in range(3)] for i in range(50)]
    answers = await asyncio.gather(*(
        sell(world, shop, listed, basket(("food", 1, 2500 + 10 * i)))
        for i, listed in enumerate(sales)))
    statuses = [s for s, _ in answers]
    assert set(statuses) <= {201, 409}, answers
    taken = {v["id"]: 0 for v in vouchers}
    for status, a in answers:
        if status == 201:
            assert a["covered"] + a["remainder"] == a["basket_total"]
            for part in a["vouchers"]:
                taken[part["id"]] += part["part"]
        else:
            assert a["code"] == "voucher_exhausted", a
    left = await balances(world, vouchers)
    assert all(b >= 0 for b in left)
    assert [10000 - taken[v["id"]] for v in vouchers] == left
    # All or nothing: a sale is refused once any voucher it lists is used up (balances
    # only go down here, so the voucher it names is still at 0).
    by_id = {v["id"]: b for v, b in zip(vouchers, left, strict=True)}
    assert all(by_id[a["voucher"]["voucher_id"]] == 0 for s, a in answers if s != 201)
    assert statuses.count(201) >= 10 and sum(left) < 60000
    paid = await db.fetchval("SELECT sum(covered) FROM redemptions WHERE status = 'captured'")
    assert paid == 60000 - sum(left)
    assert all(check.ok for check in await verify_ledger(db)), [
        c for c in await verify_ledger(db) if not c.ok]
    done = await pos_command(config, "verify")
    assert done.returncode == 0, done.stdout + done.stderr


async def test_a_voucher_whose_visit_is_used_today_is_named(world: World) -> None:
    """Two children's wish vouchers in one sale; one already paid its 100 at this shop
    today: the sale is refused naming that voucher, and nothing is taken."""
    shop, _, vouchers = await wish_vouchers(world, 2)
    status, _r = await sell(world, shop, [vouchers[1]], basket(("stationery", 1, 10000)))
    assert status == 201
    status, r = await sell(world, shop, vouchers, STATIONERY_250)
    assert (status, r["code"], r["voucher"]["position"]) == (422, "limit_reached", 2), r
    assert await balances(world, vouchers) == [30000, 20000]


async def test_a_voucher_pays_what_its_visit_has_left_today(world: World) -> None:
    shop, _, vouchers = await wish_vouchers(world, 2)
    status, _r = await sell(world, shop, [vouchers[1]], basket(("stationery", 1, 6000)))
    assert status == 201
    status, r = await sell(world, shop, vouchers, STATIONERY_250)
    assert status == 201, r
    assert [v["part"] for v in r["vouchers"]] == [10000, 4000]
    assert await balances(world, vouchers) == [20000, 20000]
