"""Two services on one database: a throttle counted in one process holds in the other, and a
till disabled in the database is refused by both at once (LISTEN/NOTIFY), although each
had it cached. The first service runs two workers on one port (`--workers 2`), and its
/metrics (read with the scrape token) adds up the requests both workers answered."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from pos import codes
from tests.conftest import SCRAPER
from tests.service_process import issue, set_up_shop, start_service

LOOKUPS_PER_MINUTE = 6
FOOD = {"currency": "CNY", "lines": [{"sku": "S1", "category": "food", "description": "rice",
                                      "quantity": 1, "unit_price": 500}]}


async def test_throttles_and_till_changes_hold_across_processes(
        database_url: str, tmp_path: Path) -> None:
    env = {"POS_DATABASE_URL": database_url,
           "POS_LIMITS_CODE_LOOKUPS_PER_MINUTE": str(LOOKUPS_PER_MINUTE)}
    first = await start_service(tmp_path / "data", workers=2, env_overrides=env)
    second = await start_service(tmp_path / "data", workers=1, env_overrides=env)
    sent: Counter[str] = Counter()  # quotes answered, by service
    try:
        # A connection per request, so the kernel spreads them over the first's workers.
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True)) as session:
            shop = await set_up_shop(session, first.url)
            (voucher,) = await issue(session, first.url, shop.program_id, 1)

            async def quote(base: str, **credential: str) -> tuple[int, str]:
                async with session.post(base + "/v1/quotes", headers=shop.till(),
                                        json={**credential, "basket": FOOD}) as resp:
                    sent[base] += 1
                    return resp.status, (await resp.json()).get("code", "")

            # Guesses at manual codes: half in each process, then both refuse.
            answers = []
            for i in range(LOOKUPS_PER_MINUTE):
                guess = codes.derive_code(b"guess", str(uuid.uuid4()), 0)
                answers.append(await quote((first, second)[i % 2].url, code=guess))
            assert answers == [(422, "invalid_token")] * LOOKUPS_PER_MINUTE
            assert await quote(first.url, code=voucher["code"]) == (429, "rate_limited")
            assert await quote(second.url, code=voucher["code"]) == (429, "rate_limited")

            # Both processes know (and cache) the till; it is disabled in the database.
            for service in (first, second):
                assert (await quote(service.url, token=voucher["token"]))[0] == 200
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("UPDATE tills SET disabled_at = now() WHERE id = $1",
                                   uuid.UUID(shop.till_id))
            finally:
                await conn.close()
            disabled_at = time.monotonic()
            heard: dict[str, float] = {}
            while len(heard) < 2 and time.monotonic() - disabled_at < 10:
                for name, service in (("first", first), ("second", second)):
                    if name not in heard and (
                            await quote(service.url, token=voucher["token"]))[0] == 401:
                        heard[name] = time.monotonic() - disabled_at
                await asyncio.sleep(0.01)
            # Refused by both long before the till cache's own 30 s would run out.
            assert set(heard) == {"first", "second"}, heard
            print("\ntill disable heard after: "
                  + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in heard.items()))

            # Whichever worker answers the scrape counts every worker's quotes.
            async with session.get(first.url + "/metrics") as resp:
                assert resp.status == 401
            async with session.get(first.url + "/metrics", headers=SCRAPER) as resp:
                assert resp.status == 200
                exposition = await resp.text()
            counted = sum(sample.value
                          for family in text_string_to_metric_families(exposition)
                          for sample in family.samples
                          if sample.name == "pos_http_requests_total"
                          and sample.labels["route"] == "/v1/quotes")
            assert counted == sent[first.url], (counted, sent)
    finally:
        first.stop()
        second.stop()
    pids = {json.loads(line).get("pid") for line in first.log_text().splitlines()
            if line.startswith("{") and '"worker serving"' in line}
    assert len(pids) == 2, pids  # two worker processes served the first service's port
