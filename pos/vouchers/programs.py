"""Defining a program: its rules and channels must be installed, its dates read in the
service's time zone (a date is local midnight; an end date is inclusive)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pos.api.requests import ProgramIn
from pos.errors import validation_error
from pos.service.services import Services
from pos.storage import setup as setup_store


def local_moment(value: date | datetime, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date means local midnight; an end date is inclusive (up to the next midnight)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0), tzinfo=zone)


async def define_program(services: Services, program: ProgramIn) -> str:
    """Check a program against what is installed and store it; returns its id."""
    unknown = services.plugins.unknown_rules(program.restrictions)
    if unknown:
        raise validation_error(f"No voucher rule is installed with the name {unknown[0]!r}.")
    missing = [c for c in program.channels if services.plugins.channel(c) is None]
    if missing:
        raise validation_error(f"No payment channel is installed with the name {missing[0]!r}.")
    zone = ZoneInfo(services.config.redemption.timezone)
    valid_from = local_moment(program.valid_from, zone, end=False)
    valid_until = local_moment(program.valid_until, zone, end=True)
    if valid_until <= valid_from:
        raise validation_error("valid_until must come after valid_from.")
    values = program.model_dump()
    values.update(valid_from=valid_from, valid_until=valid_until)
    return await setup_store.create_program(services.pool, values)
