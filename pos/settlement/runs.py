"""A settlement run: for each merchant (and currency), a batch of what is due up to the
period end. Runs take a lock and the lines' key refuses a second settlement, so two runs
racing settle each redemption once."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pos.errors import PERIOD_NOT_OVER, not_found, validation_error
from pos.messages import words
from pos.service.services import Services
from pos.storage import settlements as store
from pos.storage.setup import get_program


def period_end_moment(value: date | datetime, zone: ZoneInfo) -> datetime:
    """A date means the whole of that day, local time: up to the next local midnight."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    return datetime.combine(value + timedelta(days=1), time(0), tzinfo=zone)


async def settle(
    services: Services, *, period_end: date | datetime, merchant_id: str | None = None,
    program_id: str | None = None, actor: str,
) -> dict[str, Any]:
    """Cut the batches of one run and return the run with its batches. A date as the
    period's end is a local day of each program (up to its next local midnight); the run
    records that day's end in the program's zone (a run for one program) or the service's
    `redemption.timezone`."""
    zone = ZoneInfo(services.config.redemption.timezone)
    if not 2000 <= period_end.year <= 9000:
        # Also keeps the date arithmetic and the database's timestamps in range.
        raise validation_error(words("结算截止时间须在 2000 年至 9000 年之间。",
                                     "period_end must be a date between the years 2000 and "
                                     "9000."))
    pool = services.pool
    if merchant_id is not None and not await store.merchant_exists(pool, merchant_id):
        raise not_found("merchant")
    if program_id is not None and not await store.program_exists(pool, program_id):
        raise not_found("program")
    if program_id is not None:
        zone = ZoneInfo((await get_program(pool, program_id)).time_zone)
    end = period_end_moment(period_end, zone)
    local_day = None if isinstance(period_end, datetime) else period_end
    zones = [zone] if local_day is None else [
        zone, *(ZoneInfo(z) for z in await store.program_zones(pool, program_id))]
    if max(period_end_moment(period_end, z) for z in zones) > datetime.now(tz=zone):
        # A period still running (in any program's zone) would let redemptions land
        # behind the run's back.
        raise PERIOD_NOT_OVER("A settlement period can only end in the past.")
    run_id = str(uuid.uuid4())
    async with pool.acquire() as conn:
        await store.cut_batches(conn, run_id=run_id, period_end=end, merchant_id=merchant_id,
                                program_id=program_id, actor=actor, local_day=local_day)
    batches = await store.list_batches(pool, run_id=run_id, limit=100_000)
    return {
        "run_id": run_id, "period_end": end.isoformat(), "merchant_id": merchant_id,
        "program_id": program_id, "created_by": actor, "batches": batches,
    }
