"""Four eyes on money: a batch is approved by another account than the one that cut its
run; a top-up or reissue above the configured amount by one account waits until another
confirms it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from tests.accounts_support import person
from tests.conftest import World
from tests.settlement_support import redeem


async def test_the_account_that_cut_a_run_cannot_approve_it(world: World) -> None:
    shop = await world.shop("阳光文具店")
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    await redeem(world, shop, voucher, ("food", 1, 2500))
    wang = await person(world, "wang.finance", "finance")
    liu = await person(world, "liu.finance", "finance")

    run = await world.post("/v1/settlements", {"period_end": datetime.now(UTC).isoformat(),
                                               "by": "ignored"}, headers=wang.token_headers)
    (batch,) = run["batches"]
    listed = await world.client.get(f"/v1/settlements/{batch['id']}",
                                    headers=wang.token_headers)
    assert (await listed.json())["created_by"] == "wang.finance"  # not what the body said
    resp = await world.client.post(f"/v1/settlements/{batch['id']}/approve",
                                   json={"by": "wang"}, headers=wang.token_headers)
    problem = await resp.json()
    assert (resp.status, problem["code"]) == (409, "second_person_required")
    assert problem["detail"] == "wang.finance 生成了这次结算，其批次须由另一个账号批准。"  # noqa: RUF001
    resp = await world.client.post(f"/v1/settlements/{batch['id']}/approve",
                                   json={"by": "wang"},
                                   headers={**wang.token_headers, "Accept-Language": "en"})
    assert (await resp.json())["detail"] == (
        "wang.finance cut this settlement run, so another account must approve its batches.")
    approved = await world.post(f"/v1/settlements/{batch['id']}/approve", {"by": "liu"},
                                status=200, headers=liu.token_headers)
    assert approved["status"] == "approved"


async def test_a_large_top_up_waits_for_a_second_officer(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    program = await world.program()
    (voucher,) = await world.issue(program)
    li = await person(world, "li.officer", "officer")
    zhang = await person(world, "zhang.officer", "officer")
    url = f"/v1/vouchers/{voucher['id']}/credits"

    small = await world.client.post(url, json={"amount": 5000},
                                    headers={**li.token_headers, "Idempotency-Key": "s1"})
    assert small.status == 201  # within what one person may do alone
    resp = await world.client.post(url, json={"amount": 200000, "note": "reading goal"},
                                   headers={**li.token_headers, "Idempotency-Key": "b1"})
    held = await resp.json()
    assert resp.status == 202 and held["status"] == "awaiting_confirmation"
    pending = held["confirmation"]["id"]
    assert await db.fetchval("SELECT count(*) FROM credits WHERE voucher_id = $1 "
                             "AND kind = 'topup'", voucher["id"]) == 1
    # Asking again with the same key is the same wait, not a second one.
    again = await world.client.post(url, json={"amount": 200000, "note": "reading goal"},
                                    headers={**li.token_headers, "Idempotency-Key": "b1"})
    assert (await again.json())["confirmation"]["id"] == pending

    resp = await world.client.post(f"/v1/confirmations/{pending}/confirm",
                                   headers=li.token_headers)
    assert (resp.status, (await resp.json())["code"]) == (409, "second_person_required")
    done = await world.post(f"/v1/confirmations/{pending}/confirm", {}, status=200,
                            headers=zhang.token_headers)
    assert done["status"] == "confirmed"
    amounts = await db.fetch("SELECT amount FROM credits WHERE voucher_id = $1 "
                             "AND kind = 'topup' ORDER BY amount", voucher["id"])
    assert [r["amount"] for r in amounts] == [5000, 200000]
    resp = await world.client.post(f"/v1/confirmations/{pending}/confirm",
                                   headers=zhang.token_headers)
    assert (resp.status, (await resp.json())["code"]) == (409, "already_decided")


async def test_reissuing_a_voucher_holding_much_value_waits_too(world: World) -> None:
    program = await world.program(face_value=200000)
    (voucher,) = await world.issue(program)
    li = await person(world, "li.officer", "officer")
    zhang = await person(world, "zhang.officer", "officer")
    resp = await world.client.post(f"/v1/vouchers/{voucher['id']}/reissue",
                                   headers=li.token_headers)
    held = await resp.json()
    assert resp.status == 202
    done = await world.post(f"/v1/confirmations/{held['confirmation']['id']}/confirm", {},
                            status=200, headers=zhang.token_headers)
    assert done["outcome"]["code"] != voucher["code"]
    # The new code went to the person who confirmed; the database kept no copy of it.
    resp = await world.client.get("/v1/confirmations", headers=zhang.token_headers)
    assert (await resp.json())["confirmations"] == []


async def test_top_ups_split_below_the_threshold_still_wait_for_a_second_officer(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    # One person moving 5,000 yuan as five top-ups of 1,000 moves it alone all the same:
    # what the voucher was topped up without a second person in the last day counts.
    program = await world.program()
    (voucher,) = await world.issue(program)
    li = await person(world, "li.officer", "officer")
    url = f"/v1/vouchers/{voucher['id']}/credits"
    answers = []
    for n in range(5):
        resp = await world.client.post(url, json={"amount": 60000}, headers={
            **li.token_headers, "Idempotency-Key": f"split-{n}"})
        answers.append((resp.status, (await resp.json()).get("status")))
    assert answers[0] == (201, None)
    assert answers[1:] == [(202, "awaiting_confirmation")] * 4
    assert await db.fetchval("SELECT sum(amount) FROM credits WHERE voucher_id = $1 "
                             "AND kind = 'topup'", voucher["id"]) == 60000
