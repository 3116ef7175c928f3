"""Offline tills, service side, for what a cashier meets beyond a scanned card: a typed
manual code sold offline (the kit names codes by salted, shortened digests, never the code),
a voucher reissued around the time a kit was fetched, and refusals of forwarded sales that
carry a reason the till can put into the cashier's language."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import asyncpg
import jwt
from aiohttp.test_utils import TestClient

from pos import codes
from pos.api.app import create_app
from pos.messages import OFFLINE_FORWARD_CODES, PROBLEM_TEXTS
from tests.conftest import ADMIN, World, basket, make_config
from tests.offline_support import (
    OfflineTill,
    b64url,
    kit_voucher_of_code,
    typed_code_hash,
)

ROOT = Path(__file__).resolve().parent.parent
LIMITS = {"max_per_sale": 5000, "max_till_total": 20000, "max_offline_seconds": 86400}


async def _shop_with_program(world: World, vouchers: int = 2
                             ) -> tuple[OfflineTill, str, list[dict[str, str]]]:
    shop = await world.shop("Township shop")
    program_id = await world.program(partners=[shop], face_value=30000)
    resp = await world.client.put(f"/v1/programs/{program_id}/offline-limits", json=LIMITS,
                                  headers=ADMIN)
    assert resp.status == 200, await resp.text()
    issued = await world.issue(program_id, vouchers)
    till = OfflineTill(world.client, shop)
    await till.register()
    await till.fetch_kit()
    return till, program_id, issued


async def test_the_kit_names_typed_codes_without_carrying_them(world: World) -> None:
    till, program_id, vouchers = await _shop_with_program(world, vouchers=3)
    kit = till.kit
    for voucher in vouchers:
        assert kit_voucher_of_code(kit, voucher["code"]) == voucher["id"]
    # Typed as people type: lower case, spaces, O for 0.
    sloppy = vouchers[0]["code"].lower().replace("-", " ").replace("0", "o")
    assert kit_voucher_of_code(kit, sloppy) == vouchers[0]["id"]
    text = json.dumps(kit)
    for voucher in vouchers:
        body = codes.normalise(voucher["code"])
        assert body is not None
        stored = codes.code_hash(body)
        for leaked in (voucher["code"], body, stored.hex(), b64url(stored), voucher["token"]):
            assert leaked not in text
    digests = list(kit["codes"]["programs"][program_id])
    assert len(digests) == 3 and all(len(d) == 7 for d in digests)  # 40 bits each
    assert kit["codes"]["complete"] is True and kit["codes"]["replaced"] == []
    # Each kit has its own salt: another kit's digests of the same codes differ.
    again = await till.fetch_kit()
    assert again["codes"]["salt"] != kit["codes"]["salt"]
    assert set(again["codes"]["programs"][program_id]).isdisjoint(digests)


async def test_a_typed_code_sale_is_booked_and_another_voucher_s_code_is_refused(
        world: World) -> None:
    till, program_id, (first, second) = await _shop_with_program(world)
    key, body = till.sale(None, first["id"], program_id, basket(("household", 1, 3000)), 3000,
                          code_hash=typed_code_hash(first["code"]))
    status, answer = await till.forward(key, body)
    assert status == 201, answer
    assert (answer["covered"], answer["shortfall"]) == (3000, 0)
    assert (await world.voucher(first["id"]))["balance"] == 27000

    key, body = till.sale(None, second["id"], program_id, basket(("household", 1, 3000)), 3000,
                          code_hash=typed_code_hash(first["code"]))
    status, problem = await till.forward(key, body)
    assert (status, problem["code"], problem["reason"]) == (
        422, "offline_voucher_invalid", "unknown_code")
    assert problem["detail"] == PROBLEM_TEXTS["offline_voucher_invalid.unknown_code"]["zh-CN"]
    assert (await world.voucher(second["id"]))["balance"] == 30000

    # A sale names its voucher by token or by code, never both, never neither.
    for credential in ({"token": first["token"], "code_hash": typed_code_hash(first["code"])},
                       {}):
        record = json.loads(till.sale(first["token"], first["id"], program_id,
                                      basket(("household", 1, 100)), 100)[1]["sale"])
        record.pop("token")
        record.update(credential)
        text = json.dumps(record)
        resp = await world.client.post(
            "/v1/offline-sales", json={"sale": text, "signature": b64url(
                till.key.sign(text.encode()))}, headers=till.shop.headers(record["key"]))
        assert resp.status == 422 and (await resp.json())["code"] == "offline_sale_unreadable"


async def test_a_reissued_voucher_has_its_new_card_in_the_next_kit_and_the_old_one_refused(
        world: World, db: asyncpg.Connection[Any]) -> None:
    till, program_id, (voucher, _other) = await _shop_with_program(world)
    kit_before = till.kit
    resp = await world.client.post(f"/v1/vouchers/{voucher['id']}/reissue", headers=ADMIN)
    assert resp.status == 200, await resp.text()
    new = await resp.json()
    kit_after = await till.fetch_kit()

    new_header = jwt.get_unverified_header(new["token"])
    assert kit_after["reissued"] == {voucher["id"]: [new_header["kid"], new["token_iat"]]}
    assert kit_before["reissued"] == {}
    assert kit_voucher_of_code(kit_after, new["code"]) == voucher["id"]
    assert kit_voucher_of_code(kit_after, voucher["code"]) is None
    old_body = codes.normalise(voucher["code"])
    assert old_body is not None
    salt = kit_after["codes"]["salt"]
    assert len(kit_after["codes"]["replaced"]) == 1 and salt
    assert kit_voucher_of_code(kit_before, voucher["code"]) == voucher["id"]

    # The first kit was fetched twenty minutes ago, the reissue came ten minutes later,
    # and the second kit now: a sale with the old card on the second kit is refused; on
    # the first, the till could not know, and it is honoured.
    await db.execute("UPDATE offline_kits SET issued_at = issued_at - interval '20 minutes' "
                     "WHERE version = $1", kit_before["version"])
    await db.execute("UPDATE retired_codes SET retired_at = retired_at - interval '10 minutes' "
                     "WHERE voucher_id = $1", voucher["id"])
    old_token = till.sale(voucher["token"], voucher["id"], program_id,
                          basket(("household", 1, 2000)), 2000)
    status, problem = await till.forward(*old_token)
    assert (status, problem["code"], problem["reason"]) == (
        422, "offline_voucher_invalid", "replaced")
    old_code = till.sale(None, voucher["id"], program_id, basket(("household", 1, 2000)), 2000,
                         code_hash=typed_code_hash(voucher["code"]))
    status, problem = await till.forward(*old_code)
    assert (status, problem.get("reason")) == (422, "replaced"), problem

    till.kit = kit_before
    status, answer = await till.forward(*till.sale(
        voucher["token"], voucher["id"], program_id, basket(("household", 1, 2000)), 2000))
    assert status == 201, answer
    assert (await world.voucher(voucher["id"]))["balance"] == 28000


async def test_refusals_carry_a_reason_in_the_cashier_s_language(world: World) -> None:
    till, program_id, (voucher, _other) = await _shop_with_program(world)
    over = till.sale(voucher["token"], voucher["id"], program_id,
                     basket(("household", 1, 9000)), 9000)
    status, problem = await till.forward(*over)
    assert (status, problem["code"], problem["reason"]) == (
        422, "offline_limit_exceeded", "per_sale")
    assert "90.00" in problem["detail"] and "50.00" in problem["detail"]
    assert re.search(r"[\u4e00-\u9fff]", problem["detail"])  # Chinese by default

    assert (await till.forward(*till.sale(voucher["token"], voucher["id"], program_id,
                                           basket(("household", 1, 2000)), 2000)))[0] == 201
    key, body = till.sale(voucher["token"], voucher["id"], program_id,
                          basket(("household", 1, 1000)), 1000)
    resp = await world.client.post("/v1/offline-sales", json=body, headers={
        **till.shop.headers(key), "Accept-Language": "en"})
    problem = await resp.json()
    assert (resp.status, problem["code"], problem["reason"]) == (
        422, "offline_limit_exceeded", "once_a_day")
    assert problem["detail"] == "This till already sold to this voucher offline that day."


async def test_a_program_past_the_kit_s_code_bound_is_left_out_whole(
        aiohttp_client: Any, database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data", POS_OFFLINE_KIT_MAX_CODES="3")
    client: TestClient[Any, Any] = await aiohttp_client(create_app(config))
    world = World(client)
    shop = await world.shop()
    small = await world.program(name="Small", partners=[shop])
    large = await world.program(name="Large", partners=[shop])
    (kept,) = await world.issue(small, 1)
    left_out = await world.issue(large, 3)
    till = OfflineTill(client, shop)
    await till.register()
    kit = await till.fetch_kit()
    assert kit["codes"]["complete"] is False
    assert set(kit["codes"]["programs"]) == {small}
    assert kit_voucher_of_code(kit, kept["code"]) == kept["id"]
    assert all(kit_voucher_of_code(kit, v["code"]) is None for v in left_out)
    await client.close()


def test_every_refusal_of_a_forwarded_sale_has_sentences_on_the_till() -> None:
    """The service's catalogue and the till's list of refused sales speak of each code in
    both languages, so the cashier never reads a raw code."""
    assert {k.split(".")[0] for k in PROBLEM_TEXTS if k.startswith("offline_")} \
        <= OFFLINE_FORWARD_CODES | {"offline_sale_not_voidable"}
    for code in OFFLINE_FORWARD_CODES:
        assert all(PROBLEM_TEXTS[code].get(lang) for lang in ("zh-CN", "en")), code
    text = (ROOT / "terminals/pos_terminals/tablet/offline_i18n.js").read_text(encoding="utf-8")
    blocks = text.split('addStrings("en"')
    assert len(blocks) == 2
    for block in blocks:
        reasons = block[block.index("refused_reasons: {"):block.index("refused_todos")]
        for key in [*OFFLINE_FORWARD_CODES, *(k for k in PROBLEM_TEXTS
                                              if k.split(".")[0] in OFFLINE_FORWARD_CODES
                                              and k.startswith("offline_"))]:
            assert f'"{key}":' in reasons, key
