# ruff: noqa: RUF001
"""The console shows a program's days in the program's own time zone, not the service's:
its period on the program page and the list, and the last day the edit form saves back,
so saving the form leaves a program's end where it was whatever its zone."""

from __future__ import annotations

import re

from tests.conftest import ADMIN, World

PAGE = {**ADMIN, "Accept": "text/html"}


async def test_a_program_west_of_the_service_shows_and_keeps_its_own_days(
    world: World
) -> None:
    # Service: Asia/Shanghai. 1 July 00:00 in New York is 1 July 12:00 in Shanghai: read in
    # the service's zone, the end (stored as the first moment past 30 June) was 1 July.
    program = await world.program(time_zone="America/New_York", valid_from="2030-06-01",
                                  valid_until="2030-06-30")
    (voucher,) = await world.issue(program)

    page = await (await world.client.get(f"/admin/programs/{program}", headers=PAGE)).text()
    assert "2030-06-01 – 2030-06-30" in page
    saved = re.search(r'name="valid_until" type="date" value="([^"]*)"', page)
    assert saved is not None and saved.group(1) == "2030-06-30"

    listed = await (await world.client.get("/admin/programs", headers=PAGE)).text()
    assert "2030-06-01 – 2030-06-30" in listed
    shown = await (await world.client.get(f"/admin/vouchers/{voucher['id']}",
                                          headers=PAGE)).text()
    assert "2030-06-01 – 2030-06-30" in shown
