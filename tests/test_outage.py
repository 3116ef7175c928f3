"""PostgreSQL is killed (`kill -9` of the postmaster) while tills are redeeming: every
answer is a redemption or a 503 with Retry-After, never a 500; the supervised embedded
server comes back, the pool reconnects without a restart, and every acknowledged
redemption is there. Tills retry with the same Idempotency-Key, as the till app does, so
in the end each key is redeemed exactly once (a key claimed by a request the kill cut
off answers 409 idempotency_in_progress until its lease runs out, then the retry takes it).

Figures (counts, time to heal) are printed, never asserted on: `pytest -s` shows them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp

from pos.db.embedded import postmaster_pid
from tests.conftest import SCRAPER
from tests.service_process import ADMIN, issue, set_up_shop, start_service

AMOUNT = 1  # a till's sale: its voucher (30000) lasts the whole test at any speed
CLIENTS = 8
LOAD_BEFORE_KILL_SECONDS = 1.5
LOAD_AFTER_HEAL_SECONDS = 1.5
HEAL_LIMIT_SECONDS = 60.0


async def test_database_killed_under_load_gives_503s_and_heals(tmp_path: Path) -> None:
    # A short idempotency lease: a key claimed by a request the kill cut off is free for
    # its retry after 3 s instead of 30 s, which keeps the test short.
    service = await start_service(tmp_path / "data", workers=2,
                                  env_overrides={"POS_REDEMPTION_IDEMPOTENCY_LEASE_SECONDS": "3"})
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=40)) as session:
            base = service.url
            shop = await set_up_shop(session, base)
            vouchers = await issue(session, base, shop.program_id, CLIENTS)

            statuses: Counter[int] = Counter()
            acknowledged: dict[str, str] = {}  # idempotency key -> redemption id
            redeemed_per_voucher: Counter[str] = Counter()
            retry_after_seen: set[str] = set()
            readiness: Counter[int] = Counter()
            killed_at: float | None = None
            first_503_at: float | None = None  # the outage as a till first sees it
            healed_at: float | None = None  # first redemption asked for after that
            stop = asyncio.Event()

            async def till(voucher: dict[str, str]) -> None:
                nonlocal healed_at, first_503_at
                while not stop.is_set():
                    key = uuid.uuid4().hex
                    while True:  # a till repeats the same request until it gets an answer
                        asked_at = time.monotonic()
                        try:
                            async with session.post(
                                    base + "/v1/redemptions", headers=shop.till(key),
                                    json={"token": voucher["token"], "basket": {
                                        "currency": "CNY", "lines": [{
                                            "sku": "S1", "category": "food",
                                            "description": "rice", "quantity": 1,
                                            "unit_price": AMOUNT}]}}) as resp:
                                statuses[resp.status] += 1
                                if resp.status == 201:
                                    acknowledged[key] = (await resp.json())["id"]
                                    redeemed_per_voucher[voucher["id"]] += AMOUNT
                                    if (first_503_at is not None and healed_at is None
                                            and asked_at > first_503_at):
                                        healed_at = time.monotonic()
                                    break
                                if resp.status == 409:
                                    # The key was claimed just before the kill; its lease
                                    # runs out and the retry takes it over.
                                    body = await resp.json()
                                    assert body["code"] == "idempotency_in_progress", body
                                    await asyncio.sleep(0.2)
                                    continue
                                if resp.status == 503:
                                    if first_503_at is None:
                                        first_503_at = time.monotonic()
                                    retry_after_seen.add(resp.headers.get("Retry-After", ""))
                                    body = await resp.json()
                                    assert body["code"] == "service_unavailable"
                                    assert body["request_id"] == resp.headers["X-Request-Id"]
                                    await asyncio.sleep(0.05)
                                    continue
                                raise AssertionError((resp.status, await resp.text()))
                        except aiohttp.ClientError:
                            statuses[0] += 1  # the connection broke: ask again
                            await asyncio.sleep(0.05)

            async def probe() -> None:
                while not stop.is_set():
                    async with session.get(base + "/readyz") as resp:
                        readiness[resp.status] += 1
                    async with session.get(base + "/healthz") as resp:
                        assert resp.status == 200  # alive all along
                    await asyncio.sleep(0.05)

            tasks = [asyncio.create_task(till(v)) for v in vouchers]
            tasks.append(asyncio.create_task(probe()))
            await asyncio.sleep(LOAD_BEFORE_KILL_SECONDS)
            before = len(acknowledged)
            pid = postmaster_pid(tmp_path / "data")
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            killed_at = time.monotonic()
            deadline = killed_at + HEAL_LIMIT_SECONDS
            while healed_at is None and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            await asyncio.sleep(LOAD_AFTER_HEAL_SECONDS)
            stop.set()
            await asyncio.gather(*tasks)

            assert first_503_at is not None, "the outage was never seen"
            assert healed_at is not None, "the service did not heal"
            assert statuses[500] == 0
            assert set(statuses) <= {0, 201, 409, 503}, statuses
            assert postmaster_pid(tmp_path / "data") not in (None, pid)  # a new server

            # Every acknowledged redemption is there, and nothing else was charged.
            lost = 0
            for redemption_id in acknowledged.values():
                async with session.get(f"{base}/v1/redemptions/{redemption_id}",
                                       headers=ADMIN) as resp:
                    lost += resp.status != 200
            for voucher in vouchers:
                async with session.get(f"{base}/v1/vouchers/{voucher['id']}",
                                       headers=ADMIN) as resp:
                    balance = (await resp.json())["balance"]
                assert balance == 30000 - redeemed_per_voucher[voucher["id"]]
            assert lost == 0
            async with session.get(base + "/metrics", headers=SCRAPER) as resp:
                exposition = await resp.text()
            assert "pos_database_unavailable_total" in exposition

        print(f"\noutage: {sum(statuses.values())} answers {dict(statuses)} "
              f"(0 = connection broken); 500s: {statuses[500]}; "
              f"acknowledged {len(acknowledged)} ({before} before the kill), lost {lost}; "
              f"healed {healed_at - killed_at:.2f} s after kill -9 "
              f"(first 503 after {first_503_at - killed_at:.2f} s); "
              f"Retry-After {sorted(retry_after_seen)}; /readyz {dict(readiness)}")
    finally:
        service.stop()
    # Stopped with the service: no postmaster is left running in the data folder.
    assert postmaster_pid(tmp_path / "data") is None


async def test_embedded_server_is_stopped_even_after_the_service_died_by_kill_9(
        tmp_path: Path) -> None:
    """`kill -9` of the service leaves its PostgreSQL running (nothing can stop it from a
    dead process); the next service adopts that server and stops it when it exits."""
    data = tmp_path / "data"
    service = await start_service(data, workers=2)
    postmaster = postmaster_pid(data)
    assert postmaster is not None
    service.process.send_signal(signal.SIGKILL)
    service.process.wait(timeout=10)
    assert postmaster_pid(data) == postmaster  # orphaned, still running

    service = await start_service(data, workers=1)
    try:
        assert postmaster_pid(data) == postmaster  # adopted, not started again
    finally:
        service.stop()
    assert postmaster_pid(data) is None


async def test_an_outage_is_logged_in_one_line_per_event_without_traces(
        tmp_path: Path) -> None:
    """A database that goes away is an event the service expects: its log says so in a
    warning line each time (and that it is back), never an error with a Python trace."""
    service = await start_service(tmp_path / "data", workers=1)
    try:
        pid = postmaster_pid(tmp_path / "data")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                await asyncio.sleep(0.1)
                async with session.get(service.url + "/readyz") as resp:
                    if resp.status == 200 and postmaster_pid(tmp_path / "data") not in (
                            None, pid):
                        break
        await asyncio.sleep(2)  # the change listener's reconnection, and the pool's floor
    finally:
        service.stop()
    lines = [json.loads(line) for line in service.log_text().splitlines()
             if line.startswith("{")]
    assert any(line["msg"] == "embedded PostgreSQL is running again" for line in lines)
    assert [line for line in lines if line["level"] == "error"] == []
    assert [line["msg"] for line in lines if "exc" in line] == []
