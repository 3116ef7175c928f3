"""Reissue, top-up credits and expiry, against the real till and the real ledger."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from pos.config import Config
from pos.vouchers import lifecycle
from tests.conftest import ADMIN, ENGLISH, World, new_key
from tests.issuance_support import connect, ledger_ok, quote, redeem, run_pos


async def top_up(world: World, voucher_id: str, body: dict[str, Any], key: str | None
                 ) -> tuple[int, dict[str, Any]]:
    headers = {**ADMIN, **({"Idempotency-Key": key} if key else {})}
    resp = await world.client.post(f"/v1/vouchers/{voucher_id}/credits", json=body,
                                   headers=headers)
    return resp.status, await resp.json()


async def test_reissue_refuses_the_old_token_and_code_at_once_and_keeps_the_value(
        world: World, config: Config) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop], face_value=30000)
    (old,) = await world.issue(program)
    status, spent = await redeem(world, shop, old["token"], 10000, new_key())
    assert status == 201, spent

    resp = await world.client.post(f"/v1/vouchers/{old['id']}/reissue", headers=ADMIN)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    new = await resp.json()
    assert new["id"] == old["id"]
    assert (new["token"], new["code"]) != (old["token"], old["code"])

    status, refused = await quote(world, shop, token=old["token"])
    assert (status, refused["code"]) == (403, "voucher_revoked")
    status, refused = await redeem(world, shop, old["token"], 1000, new_key())
    assert (status, refused["code"]) == (403, "voucher_revoked")
    status, refused = await quote(world, shop, code=old["code"])
    assert (status, refused["code"]) == (403, "voucher_revoked")

    status, quoted = await quote(world, shop, token=new["token"])
    assert status == 200, quoted
    assert quoted["voucher"]["balance"] == 20000
    status, quoted = await quote(world, shop, code=new["code"])
    assert status == 200
    # Same voucher, same history: the redemption made with the old token is still its own.
    history = await world.client.get(f"/v1/redemptions/{spent['id']}", headers=ADMIN)
    assert (await history.json())["voucher_id"] == old["id"]

    again = await (await world.client.post(f"/v1/vouchers/{old['id']}/reissue",
                                           headers=ADMIN)).json()
    assert again["token_iat"] > new["token_iat"]  # strictly later, even within one second
    status, refused = await quote(world, shop, token=new["token"])
    assert (status, refused["code"]) == (403, "voucher_revoked")
    await ledger_ok(config)


async def test_reissue_refusals(world: World) -> None:
    (voucher,) = await world.issue(await world.program())
    await world.post(f"/v1/vouchers/{voucher['id']}/revoke", None, status=200)
    resp = await world.client.post(f"/v1/vouchers/{voucher['id']}/reissue", headers=ADMIN)
    assert resp.status == 409
    assert (await resp.json())["code"] == "invalid_transition"
    resp = await world.client.post(f"/v1/vouchers/{uuid.uuid4()}/reissue", headers=ADMIN)
    assert resp.status == 404
    resp = await world.client.post(f"/v1/vouchers/{voucher['id']}/reissue")
    assert resp.status == 401


async def test_top_up_grants_once_per_key_and_is_in_the_ledger(
        world: World, config: Config) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop], face_value=30000)
    (voucher,) = await world.issue(program)
    key = new_key()
    status, granted = await top_up(world, voucher["id"], {"amount": 5000, "note": "goal"}, key)
    assert status == 201, granted
    assert (granted["amount"], granted["balance"], granted["kind"]) == (5000, 35000, "topup")
    status, replay = await top_up(world, voucher["id"], {"amount": 5000, "note": "goal"}, key)
    assert (status, replay) == (200, granted)
    status, conflict = await top_up(world, voucher["id"], {"amount": 9000}, key)
    # One status per code (the catalogue): as at the till, where the IETF draft says 422.
    assert (status, conflict["code"]) == (422, "idempotency_conflict")
    status, missing = await top_up(world, voucher["id"], {"amount": 5000}, None)
    assert (status, missing["code"]) == (400, "idempotency_key_required")

    status, quoted = await quote(world, shop, token=voucher["token"], amount=100000)
    assert quoted["voucher"]["balance"] == 35000
    async with connect(config) as conn:
        entries = await conn.fetch(
            "SELECT account, amount FROM ledger_entries WHERE kind = 'topup' ORDER BY amount")
    assert [(e["account"], e["amount"]) for e in entries] == [
        ("program_funding", -5000), ("voucher", 5000)]
    await ledger_ok(config)


async def test_top_up_of_a_program_counted_in_uses(world: World, config: Config) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop], uses=8, unit_price=4000)
    (voucher,) = await world.issue(program)
    status, money = await top_up(world, voucher["id"], {"amount": 4000}, new_key())
    assert (status, money["code"]) == (422, "validation_error")
    status, granted = await top_up(world, voucher["id"], {"uses": 2}, new_key())
    assert status == 201, granted
    assert (granted["amount"], granted["uses_left"]) == (8000, 10)
    await ledger_ok(config)


async def test_top_up_refusals(world: World) -> None:
    (voucher,) = await world.issue(await world.program())
    far = (date.today() + timedelta(days=400)).isoformat() + "T00:00:00+08:00"
    for body in ({"amount": 0}, {"amount": 1.5}, {"amount": "100"}, {},
                 {"amount": 100, "uses": 1}, {"amount": 100, "valid_until": far},
                 {"amount": 100, "valid_until": "2026-01-01T00:00:00"}):
        status, problem = await top_up(world, voucher["id"], body, new_key())
        assert status == 422, (body, problem)
        assert problem["code"] == "validation_error"
    await world.post(f"/v1/vouchers/{voucher['id']}/revoke", None, status=200)
    status, problem = await top_up(world, voucher["id"], {"amount": 100}, new_key())
    assert (status, problem["code"]) == (409, "invalid_transition")
    status, problem = await top_up(world, str(uuid.uuid4()), {"amount": 100}, new_key())
    assert status == 404


async def test_expiry_moves_what_is_left_into_program_expired(
        world: World, config: Config) -> None:
    shop = await world.shop()
    # A monthly allowance without rollover that began ten weeks ago: earlier months'
    # credits have ended unspent; one voucher has spent part of the current month.
    today = date.today()
    monthly = await world.program(
        partners=[shop], valid_from=str(today - timedelta(days=70)),
        valid_until=str(today + timedelta(days=200)),
        allowance={"amount": 30000, "count": 9, "rollover": False})
    (a,) = await world.issue(monthly)
    async with connect(config) as conn:
        ended = await conn.fetchval(
            "SELECT coalesce(sum(amount), 0) FROM credits WHERE voucher_id = $1 "
            "AND valid_until <= now()", uuid.UUID(a["id"]))
        report = await lifecycle.expire(conn)
        assert report.amounts == {"CNY": ended} and ended >= 60000
        assert report.vouchers == 1 and report.vouchers_ended == 0
        again = await lifecycle.expire(conn)
        assert (again.vouchers, again.amounts) == (0, {})
        expired = await conn.fetchval(
            "SELECT sum(amount) FROM ledger_entries WHERE account = 'program_expired'")
        assert expired == ended
    status, quoted = await quote(world, shop, token=a["token"], amount=100000)
    assert status == 200 and quoted["voucher"]["balance"] == 30000  # this month's credit
    await ledger_ok(config)


async def test_pos_expire_ends_a_program_and_reports(world: World, config: Config) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop], face_value=30000)
    (a, b) = await world.issue(program, count=2)
    status, _ = await redeem(world, shop, a["token"], 12000, new_key())
    assert status == 201
    async with connect(config) as conn:  # the program's end date passes
        await conn.execute("UPDATE programs SET valid_until = now() - interval '1 minute', "
                           "valid_from = now() - interval '2 days'")
        await conn.execute("UPDATE credits SET valid_until = now() - interval '1 minute', "
                           "valid_from = now() - interval '2 days'")
    done = await run_pos(config, "expire")
    assert done.returncode == 0, done.stderr
    assert "已将 2 笔额度（2 张券）中的 480.00 CNY 转入 program_expired" in done.stdout  # noqa: RUF001
    assert "已将 2 张已结束项目的券标记为过期" in done.stdout
    again = await run_pos(config, "expire", env=ENGLISH)  # nothing left to expire
    assert again.returncode == 0, again.stderr
    assert "expired nothing from 0 credit(s) of 0 voucher(s)" in again.stdout
    assert "0 voucher(s) of ended programs marked expired" in again.stdout
    assert (await world.voucher(b["id"]))["status"] == "expired"
    status, refused = await quote(world, shop, token=a["token"])
    assert (status, refused["code"]) == (403, "token_expired")
    await ledger_ok(config)
