"""A batch's lines as text (`ExportContext.text_lines`), formatted by the database while
they stream: the same text Python makes of the same lines (`exporter_types.text_line`),
whatever the currency's decimals, the time zone and the precision asked for, and whether
the core or an `ExportContext` made without it gives them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from pos.api.state import SERVICES
from pos.plugin.exporter_types import ExportContext, ExportLine, text_line
from pos.storage import settlements
from pos.storage.settlement_lines import stream_lines, stream_text_lines
from tests.conftest import World
from tests.settlement_support import insert_synthetic_redemptions, settle

ZONES = ("Asia/Shanghai", "UTC", "America/New_York", "Asia/Kolkata")


async def _flat(chunks: AsyncIterator[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [tuple(row) async for chunk in chunks for row in chunk]


async def _batch(world: World, db: asyncpg.Connection[Any], count: int) -> str:
    shop = await world.shop("文本商店")
    program = await world.program(partners=[shop], name='=Food, "fresh"\nand more')
    (voucher,) = await world.issue(program)
    await insert_synthetic_redemptions(db, shop=shop, program_id=program,
                                       voucher_id=voucher["id"], count=count)
    (batch,) = (await settle(world))["batches"]
    # Whole seconds (written without microseconds), negative and tiny amounts (as
    # adjustments and small sales give): the cases where formats differ.
    await db.execute("UPDATE settlement_lines SET occurred_at = date_trunc('second', "
                     "occurred_at) WHERE batch_id = $1 AND amount % 3 = 0", batch["id"])
    await db.execute("UPDATE settlement_lines SET amount = 5 "
                     "WHERE batch_id = $1 AND amount % 7 = 0", batch["id"])
    await db.execute("UPDATE settlement_lines SET amount = -amount, kind = 'adjustment' "
                     "WHERE batch_id = $1 AND amount % 5 = 0", batch["id"])
    return str(batch["id"])


async def test_the_databases_text_is_pythons(world: World, db: asyncpg.Connection[Any]) -> None:
    batch_id = await _batch(world, db, 2_500)
    pool = world.client.app[SERVICES].pool
    lines: list[ExportLine] = [line async for chunk in stream_lines(pool, batch_id, chunk=700)
                               for line in chunk]
    assert len(lines) == 2_500
    assert any(line.amount < 0 for line in lines)
    assert any(line.occurred_at.microsecond == 0 for line in lines)
    assert any(line.occurred_at.microsecond != 0 for line in lines)
    for currency in ("CNY", "JPY", "KWD"):
        for zone in ZONES:
            for seconds in (True, False):
                texts = await _flat(stream_text_lines(pool, batch_id, currency, zone,
                                                      seconds=seconds, chunk=700))
                assert texts == [text_line(line, currency, ZoneInfo(zone), seconds=seconds)
                                 for line in lines], (currency, zone, seconds)


async def test_an_export_context_without_the_core_makes_the_same_text(
        world: World, db: asyncpg.Connection[Any]) -> None:
    batch_id = await _batch(world, db, 300)
    pool = world.client.app[SERVICES].pool
    batch = await settlements.batch_header(pool, batch_id)
    plain = ExportContext(batch=batch, settings={},
                          lines=lambda: stream_lines(pool, batch_id, chunk=100))
    for zone in ZONES:
        made = await _flat(plain.text_lines(zone, seconds=True))
        assert made == await _flat(stream_text_lines(pool, batch_id, batch.currency, zone,
                                                     seconds=True))
        offset = {"Asia/Shanghai": "+08:00", "UTC": "+00:00", "Asia/Kolkata": "+05:30"}
        if zone in offset:
            assert all(line[5].endswith(offset[zone]) for line in made)


async def test_a_reader_that_stops_leaves_no_transaction_open(
        world: World, db: asyncpg.Connection[Any]) -> None:
    batch_id = await _batch(world, db, 1_000)
    pool = world.client.app[SERVICES].pool
    stream = stream_text_lines(pool, batch_id, "CNY", "Asia/Shanghai", chunk=100)
    first = await anext(stream)  # the next chunk is being read while this one is written
    assert len(first) == 100
    await stream.aclose()
    # The stream's connection last ran its FETCH; it must be idle now, out of its
    # transaction (other connections, such as the background loop's, are not looked at).
    # The pool gives the connection back in its own time: a leak stays, a return does not.
    for _ in range(100):
        left = await db.fetch(
            "SELECT state, query FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE '%export_text_lines%' AND state <> 'idle' "
            "AND pid <> pg_backend_pid()")
        if not left:
            break
        await asyncio.sleep(0.05)
    assert left == [], left
    assert len(await _flat(stream_text_lines(pool, batch_id, "CNY", "UTC", chunk=100))) == 1_000
