"""A settlement batch's lines for an export, in a stable order, streamed from a server-side
cursor in chunks so memory stays bounded whatever the batch's size: as `ExportLine`s, or
as text the database formats while it streams (`TextLine`s: local times, amounts in major
units), which spares the service an object and a few conversions per line.

The cursor is SQL's own (`DECLARE ... CURSOR`), not the driver's portal: PostgreSQL plans
a declared cursor to give its first rows soon (the index, in order), whereas a portal is
planned for all its rows (a sort of the whole batch, formatted, before the first line is
sent: seconds for a million lines, longer than an exporter's time limit for a piece). The
next chunk is fetched while the exporter writes the one before, so the database formats
and the service writes at the same time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, cast

import asyncpg

from pos.money import exponent
from pos.plugin.exporter_types import ExportLine, TextLine

# Lines per round trip: a few MiB of text, two chunks held at a time.
CHUNK = 10_000

# Both queries give the lines in the same order, that of the index settlement_lines_batch
# (batch_id, occurred_at, redemption_id), so the first chunk comes at once rather than
# after a sort of the whole batch. A redemption appears once in a batch (its adjustment,
# after a void, goes into a later batch), so the order is total.
_LINES = """
SELECT l.redemption_id::text, l.kind, l.amount, l.program_id::text, p.name AS program_name,
       l.voucher_id::text, l.occurred_at
  FROM settlement_lines l JOIN programs p ON p.id = l.program_id
 WHERE l.batch_id = $1
 ORDER BY l.occurred_at, l.redemption_id
"""

# The columns of `TEXT_LINE_COLUMNS`. Times are written in the transaction's time zone
# (set from the caller's), as `datetime.isoformat` writes them: to the second ($2), or
# with microseconds when there are any. The amount times 10^-exponent ($3, a numeric of
# that scale) has exactly the currency's decimals.
_TEXT_LINES = """
SELECT l.redemption_id::text, l.kind, l.program_id::text, p.name, l.voucher_id::text,
       to_char(l.occurred_at,
               CASE WHEN $2 OR date_trunc('second', l.occurred_at) = l.occurred_at
                    THEN 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'
                    ELSE 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM' END),
       (l.amount * $3::numeric)::text, l.amount::text
  FROM settlement_lines l JOIN programs p ON p.id = l.program_id
 WHERE l.batch_id = $1
 ORDER BY l.occurred_at, l.redemption_id
"""


async def stream_lines(
    pool: asyncpg.Pool[Any], batch_id: str, chunk: int = CHUNK
) -> AsyncGenerator[Sequence[ExportLine], None]:
    """The batch's lines as `ExportLine`s, `chunk` at a time."""
    async for rows in _chunks(pool, chunk, None, "export_lines", _LINES, batch_id):
        yield [ExportLine(*r) for r in rows]


async def stream_text_lines(
    pool: asyncpg.Pool[Any], batch_id: str, currency: str, time_zone: str, *,
    seconds: bool = False, chunk: int = CHUNK,
) -> AsyncGenerator[Sequence[TextLine], None]:
    """The batch's lines as `TextLine`s (see `pos.plugin.exporter_types`), `chunk` at a
    time: asyncpg's records, read by position as a tuple is, with no copy."""
    scale = Decimal(1).scaleb(-exponent(currency))
    async for rows in _chunks(pool, chunk, time_zone, "export_text_lines", _TEXT_LINES,
                              batch_id, seconds, scale):
        yield cast(Sequence[TextLine], rows)


async def _chunks(pool: asyncpg.Pool[Any], chunk: int, time_zone: str | None, cursor: str,
                  query: str, *args: Any) -> AsyncIterator[list[asyncpg.Record]]:
    """`query`'s rows through the cursor named `cursor` (one name per query, so the
    driver's cached FETCH statement always describes the same columns)."""
    fetch = f"FETCH FORWARD {int(chunk)} FROM {cursor}"
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        # The lines are written as they come: the plan that gives the first ones soonest
        # is the one wanted, even for a batch the statistics have not seen yet.
        await conn.execute("SELECT set_config('cursor_tuple_fraction', '0.01', true), "
                           "set_config('TimeZone', coalesce($1, current_setting('TimeZone')), "
                           "true)", time_zone)
        await conn.execute(f"DECLARE {cursor} NO SCROLL CURSOR FOR {query}", *args)
        ahead = asyncio.ensure_future(conn.fetch(fetch))
        try:
            while rows := await ahead:
                ahead = asyncio.ensure_future(conn.fetch(fetch))
                yield rows
        finally:
            # The reader stopped (or failed): the read in flight ends before the
            # transaction and the connection go back.
            if not ahead.done():
                await asyncio.wait([ahead])
            if not ahead.cancelled():
                # Retrieved, so it is not reported as lost: the error that stopped the
                # reader is the one that goes on.
                ahead.exception()
