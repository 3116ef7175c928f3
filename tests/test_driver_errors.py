"""Driver errors reach the service as its own errors, decided by SQLSTATE in one place
(`pos.storage.driver_errors`), and the redemption functions' lost lease is one of them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from pos.db.availability import DatabaseUnavailable
from pos.db.pool import create_pool
from pos.errors import IdempotencyProblem, Problem, StorageError
from pos.storage import redemptions
from pos.storage.driver_errors import (
    DuplicateRow,
    LeaseLost,
    MissingReference,
    RejectedValue,
    translated,
)
from pos.storage.redemptions import NewRedemption
from tests.conftest import ADMIN, World, basket, new_key


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool[Any]]:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.mark.parametrize(("sqlstate", "expected"), [
    ("23505", DuplicateRow),
    ("23503", MissingReference),
    ("23514", RejectedValue),
    ("22P02", RejectedValue),
    ("PV001", LeaseLost),
    ("P0001", StorageError),
    ("XX000", StorageError),
])
async def test_each_sqlstate_becomes_its_error(
    pool: asyncpg.Pool[Any], sqlstate: str, expected: type[StorageError]
) -> None:
    with pytest.raises(StorageError) as raised, translated():
        await pool.execute(
            f"DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '{sqlstate}'; END $$")
    assert type(raised.value) is expected
    assert isinstance(raised.value.__cause__, asyncpg.PostgresError)


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
async def test_a_rolled_back_conflict_is_a_problem_to_retry(
    pool: asyncpg.Pool[Any], sqlstate: str
) -> None:
    with pytest.raises(Problem) as raised, translated():
        await pool.execute(
            f"DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '{sqlstate}'; END $$")
    assert (raised.value.code, raised.value.status) == ("try_again", 503)


async def test_real_constraints_are_named(pool: asyncpg.Pool[Any]) -> None:
    merchant_id = str(uuid.uuid4())
    await pool.execute("INSERT INTO merchants (id, name) VALUES ($1, 'Shop')", merchant_id)
    with pytest.raises(DuplicateRow) as duplicate, translated():
        await pool.execute("INSERT INTO merchants (id, name) VALUES ($1, 'Shop')", merchant_id)
    assert duplicate.value.constraint == "merchants_pkey"
    with pytest.raises(MissingReference), translated():
        await pool.execute(
            "INSERT INTO tills (id, merchant_id, name, secret_hash) VALUES ($1, $2, 't', '')",
            str(uuid.uuid4()), str(uuid.uuid4()))
    # A value the driver cannot send at all is refused as a value too.
    with pytest.raises(RejectedValue), translated():
        await pool.fetchval("SELECT $1::uuid", "not-a-uuid-" + "x" * 25)


async def test_partner_link_to_a_malformed_or_unknown_merchant_is_a_clear_problem(
    world: World,
) -> None:
    program_id = await world.program()
    path = f"/v1/programs/{program_id}/merchants"
    bad = await world.post(path, {"merchant_id": "m" * 36}, status=422)
    assert bad["code"] == "validation_error"
    unknown = await world.post(path, {"merchant_id": str(uuid.uuid4())}, status=404)
    assert unknown["code"] == "not_found"


async def test_a_redemption_whose_lease_was_taken_over_writes_nothing(
    world: World, pool: asyncpg.Pool[Any]
) -> None:
    """pos_redeem raises PV001 when the idempotency key is no longer ours: the till is
    told the request is still in progress, and not a cent moves."""
    shop = await world.shop()
    program_id = await world.program(partners=[shop])
    (voucher,) = await world.issue(program_id)
    iat = await pool.fetchval("SELECT token_iat FROM vouchers WHERE id = $1", voucher["id"])
    new = NewRedemption(
        redemption_id=str(uuid.uuid4()), voucher_id=voucher["id"],
        merchant_id=shop.merchant_id, till_id=shop.till_id, idem_key=new_key(),
        idem_owner=str(uuid.uuid4()), currency="CNY", basket_total=500, eligible_total=500,
        wanted=500, requested=None, channel="cash", lines=[], response={}, token_iat=iat)
    with pytest.raises(IdempotencyProblem) as raised:
        await redemptions.redeem(pool, new)
    assert raised.value.code == "idempotency_in_progress"
    assert await pool.fetchval("SELECT count(*) FROM redemptions") == 0
    assert (await world.voucher(voucher["id"]))["balance"] == 30000


async def test_a_void_whose_lease_was_taken_over_writes_nothing(
    world: World, pool: asyncpg.Pool[Any]
) -> None:
    shop = await world.shop()
    program_id = await world.program(partners=[shop])
    (voucher,) = await world.issue(program_id)
    sale = await world.post("/v1/redemptions", {"token": voucher["token"],
                                                "basket": basket(("food", 1, 700))},
                            headers=shop.headers(new_key()))
    with pytest.raises(IdempotencyProblem) as raised:
        await redemptions.void(pool, sale["id"], shop.merchant_id, shop.till_id, 60,
                               new_key(), str(uuid.uuid4()))
    assert raised.value.code == "idempotency_in_progress"
    assert await pool.fetchval("SELECT status FROM redemptions") == "captured"


async def test_a_program_reads_back_typed_and_answers_as_before(world: World) -> None:
    shop = await world.shop()
    program_id = await world.program(partners=[shop], per_visit_cap=5000)
    resp = await world.client.get(f"/v1/programs/{program_id}", headers=ADMIN)
    shown = await resp.json()
    assert list(shown) == [
        "id", "name", "currency", "restrictions", "rule_settings", "face_value",
        "per_visit_cap", "uses", "unit_price", "valid_from", "valid_until", "allowance",
        "require_identity", "channels", "created_at", "merchant_ids", "time_zone", "limits"]
    assert (shown["currency"], shown["restrictions"], shown["channels"]) == (
        "CNY", ["any"], ["cash"])
    assert shown["merchant_ids"] == [shop.merchant_id]
    assert shown["per_visit_cap"] == 5000
    for key in ("valid_from", "valid_until", "created_at"):
        assert datetime.fromisoformat(shown[key]).tzinfo is not None


async def test_a_connection_killed_mid_statement_is_an_outage_not_a_bug(
    pool: asyncpg.Pool[Any], database_url: str
) -> None:
    """The server killed under a statement: `DatabaseUnavailable` (503), never the
    StorageError of an unknown SQLSTATE (500)."""
    async with pool.acquire() as conn:
        pid = conn.get_server_pid()
        killer = await asyncpg.connect(database_url)
        try:
            async def kill_soon() -> None:
                await asyncio.sleep(0.3)
                await killer.execute("SELECT pg_terminate_backend($1)", pid)

            task = asyncio.create_task(kill_soon())
            with pytest.raises(DatabaseUnavailable), translated():
                await conn.execute("SELECT pg_sleep(5)")
            await task
        finally:
            await killer.close()
    assert await pool.fetchval("SELECT 1") == 1  # the pool healed by itself
