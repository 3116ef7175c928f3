"""Redemptions per second over HTTP with concurrent tills, next to pgbench on the same server.

    .venv/bin/python bench/redeem.py [--tills 32] [--seconds 15]

Starts an embedded PostgreSQL in a temporary folder, runs the service (`pos run`) as its own
process, gives each simulated till its own voucher, and has all tills redeem as fast as they
can for the given time. Then runs pgbench (TPC-B-like, the same server, the same number of
clients, the same duration) and prints both figures and their ratio. Client, service and
database share this machine's cores, so the figures compare, they do not certify.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import free_port, rss_mib, wait_healthy, with_database  # noqa: E402
from pos.db.embedded import embedded_url  # noqa: E402

ADMIN = "adm_bench_" + uuid.uuid4().hex


async def create_database(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def post(session: aiohttp.ClientSession, url: str, body: Any,
               headers: dict[str, str]) -> Any:
    async with session.post(url, json=body, headers=headers) as resp:
        data = await resp.json()
        if resp.status >= 300:
            raise SystemExit(f"set-up failed: {resp.status} {data}")
        return data


async def set_up(session: aiohttp.ClientSession, url: str, tills: int
                 ) -> list[tuple[str, str]]:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    today = date.today()
    program = await post(session, url + "/v1/programs", {
        "name": "Bench", "restrictions": ["any"], "face_value": 10**12,
        "valid_from": str(today - timedelta(days=1)),
        "valid_until": str(today + timedelta(days=30))}, admin)
    merchant = await post(session, url + "/v1/merchants", {"name": "Bench shop"}, admin)
    await post(session, url + f"/v1/programs/{program['id']}/merchants",
               {"merchant_id": merchant["id"]}, admin)
    vouchers = (await post(session, url + f"/v1/programs/{program['id']}/vouchers", {
        "beneficiaries": [{"ref": f"bench-{i}"} for i in range(tills)]}, admin))["vouchers"]
    pairs = []
    for i in range(tills):
        till = await post(session, url + f"/v1/merchants/{merchant['id']}/tills",
                          {"name": f"till {i}"}, admin)
        pairs.append((till["secret"], vouchers[i]["token"]))
    return pairs


async def till_loop(session: aiohttp.ClientSession, url: str, secret: str, token: str,
                    until: float, latencies: list[float], errors: list[int]) -> None:
    body = {"token": token, "basket": {"currency": "CNY", "lines": [
        {"sku": "RICE-5KG", "category": "food", "description": "Rice 5 kg", "quantity": 1,
         "unit_price": 100}]}}
    while time.perf_counter() < until:
        headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": uuid.uuid4().hex}
        started = time.perf_counter()
        async with session.post(url + "/v1/redemptions", json=body, headers=headers) as resp:
            await resp.read()
            if resp.status != 201:
                errors.append(resp.status)
                continue
        latencies.append(time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else 0.0


def run_pgbench(server: str, clients: int, seconds: int) -> tuple[float, float]:
    bindir = Path(shutil.which("pgbench") or "").parent
    import pgserver  # the embedded server ships pgbench beside postgres

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
    pgbench = str(bundled) if bundled.exists() else str(bindir / "pgbench")
    parsed = urlparse(server)
    host = parse_qs(parsed.query).get("host", [parsed.hostname or "127.0.0.1"])[0]
    common = ["-h", host, "-U", parsed.username or "postgres"]
    if parsed.port:
        common += ["-p", str(parsed.port)]
    subprocess.run([pgbench, *common, "-i", "-q", "-s", "10", "pgbench"], check=True,
                   capture_output=True)
    done = subprocess.run([pgbench, *common, "-c", str(clients), "-j", "2", "-T", str(seconds),
                           "-M", "prepared", "pgbench"], check=True, capture_output=True,
                          text=True)
    tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms",  # type: ignore[union-attr]
                              done.stdout).group(1))
    return tps, latency


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tills", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pos-bench-"))
    server = await asyncio.to_thread(embedded_url, workdir / "data")
    await create_database(server, "bench")
    await create_database(server, "pgbench")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "POS_DATABASE_URL": with_database(server, "bench"),
           "POS_DATA_DIR": str(workdir / "data"), "POS_ADMIN_TOKEN": ADMIN,
           "POS_SERVER_PORT": str(port), "POS_DATABASE_POOL_MAX_SIZE": str(args.tills),
           # One process, as the figures were always measured (and pgbench's reference is
           # one client process); POS_SERVER_WORKERS set outside overrides it.
           "POS_SERVER_WORKERS": os.environ.get("POS_SERVER_WORKERS", "1")}
    service = subprocess.Popen([sys.executable, "-m", "pos.cli.main", "run"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        connector = aiohttp.TCPConnector(limit=args.tills)
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_healthy(session, url)
            pairs = await set_up(session, url, args.tills)
            warm: list[float] = []
            await asyncio.gather(*(till_loop(session, url, s, t,
                                             time.perf_counter() + args.warmup, warm, [])
                                   for s, t in pairs))
            latencies: list[float] = []
            errors: list[int] = []
            started = time.perf_counter()
            until = started + args.seconds
            await asyncio.gather(*(till_loop(session, url, s, t, until, latencies, errors)
                                   for s, t in pairs))
            elapsed = time.perf_counter() - started
        rss = rss_mib(service.pid, "VmHWM")
    finally:
        service.terminate()
        service.wait(timeout=30)

    verify = subprocess.run([sys.executable, "-m", "pos.cli.main", "verify"], env=env,
                            capture_output=True, text=True)
    tps, pg_latency = run_pgbench(server, args.tills, args.seconds)
    rps = len(latencies) / elapsed
    print(f"redemptions over HTTP: {args.tills} tills on distinct vouchers, {args.seconds} s, "
          f"{len(latencies)} redeemed, {len(errors)} refused")
    print(f"  throughput      {rps:10.1f} redemptions/s")
    print(f"  latency p50     {percentile(latencies, 0.50) * 1000:10.2f} ms")
    print(f"  latency p99     {percentile(latencies, 0.99) * 1000:10.2f} ms")
    print(f"  service peak RSS {rss:9.1f} MiB")
    print(f"  ledger verify   {'ok' if verify.returncode == 0 else 'FAILED'}")
    print(f"pgbench TPC-B-like: {args.tills} clients, {args.seconds} s, same server")
    print(f"  throughput      {tps:10.1f} transactions/s")
    print(f"  latency avg     {pg_latency:10.2f} ms")
    print(f"ratio redemptions/s : pgbench tps = {rps / tps:.2f}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
