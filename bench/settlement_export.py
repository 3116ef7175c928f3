"""Settlement of a large batch: the run, then each export streamed over HTTP, with the time
each took and the service's memory while it streamed.

    .venv/bin/python bench/settlement_export.py [--redemptions 1000000]

Starts an embedded PostgreSQL in a temporary folder (or uses $POS_DATABASE_URL's server),
runs the service (`pos run`) as its own process, writes the redemptions of one merchant
with one INSERT ... generate_series, settles them into one batch and downloads it as CSV,
JSON and pain.001. Memory is the service process's resident set, sampled every 20 ms
while a file streams, next to what it held before; the figures compare runs on one
machine, they do not certify.

The reference, in the same run, is PostgreSQL's own COPY of the CSV file's columns
formatted as the CSV export formats them, received and hashed by this process as a
download is; each format's speed is printed as a fraction of it, with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pos_plugins.export_csv import KINDS  # noqa: E402

from bench.service import free_port, rss_mib, wait_healthy  # noqa: E402
from pos.db.embedded import embedded_url  # noqa: E402
from tests.settlement_support import insert_synthetic_redemptions  # noqa: E402

ADMIN = "adm_bench_" + uuid.uuid4().hex

# The CSV export's columns, formatted as the export formats them (the bench's batch is in
# CNY: two decimals), for the database's own COPY, the reference.
REFERENCE_COPY = """
SELECT b.id AS batch_id, b.merchant_id,
       CASE WHEN left(m.name, 1) IN ('=', '+', '-', '@') THEN '''' || m.name ELSE m.name END
           AS merchant_name,
       b.currency, l.redemption_id,
       CASE l.kind WHEN 'redemption' THEN $2 ELSE $3 END AS kind,
       l.program_id,
       CASE WHEN left(p.name, 1) IN ('=', '+', '-', '@') THEN '''' || p.name ELSE p.name END
           AS program_name,
       l.voucher_id, to_char(l.occurred_at, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM') AS occurred_at,
       (l.amount * 0.01)::text AS amount, l.amount AS amount_minor
  FROM settlement_lines l JOIN settlement_batches b ON b.id = l.batch_id
  JOIN merchants m ON m.id = b.merchant_id JOIN programs p ON p.id = l.program_id
 WHERE l.batch_id = $1
 ORDER BY l.occurred_at, l.redemption_id
"""
HEADERS = {"Authorization": f"Bearer {ADMIN}"}


class _Shop:
    """What insert_synthetic_redemptions needs of a shop."""

    def __init__(self, merchant_id: str, till_id: str) -> None:
        self.merchant_id, self.till_id = merchant_id, till_id


async def call(session: aiohttp.ClientSession, method: str, url: str,
               body: Any = None) -> Any:
    async with session.request(method, url, json=body, headers=HEADERS) as resp:
        data = await resp.json()
        if resp.status >= 300:
            raise SystemExit(f"{method} {url} failed: {resp.status} {data}")
        return data


def _tail(log_file: Path, lines: int = 30) -> str:
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


async def download(session: aiohttp.ClientSession, url: str, pid: int, log_file: Path
                   ) -> tuple[float, int, str, float]:
    """Stream one export; return seconds, bytes, SHA-256 and the service's peak RSS."""
    peak = rss_mib(pid)
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mib(pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    digest, size = hashlib.sha256(), 0
    started = time.perf_counter()
    async with session.get(url, headers=HEADERS) as resp:
        if resp.status != 200:
            raise SystemExit(f"export failed: {resp.status} {await resp.text()}")
        try:
            async for piece in resp.content.iter_chunked(1 << 16):
                digest.update(piece)
                size += len(piece)
        except aiohttp.ClientPayloadError:
            # The service cut the transfer: say why, from its log.
            raise SystemExit("export stopped mid-stream; the service's log ends:\n"
                             + _tail(log_file)) from None
    seconds = time.perf_counter() - started
    done.set()
    await sampler
    return seconds, size, digest.hexdigest(), peak


async def bench(count: int, server: str, data_dir: Path) -> None:
    name = f"pos_bench_{uuid.uuid4().hex[:8]}"
    admin_conn = await asyncpg.connect(server)
    await admin_conn.execute(f'CREATE DATABASE "{name}"')
    await admin_conn.close()
    base, _, query = server.partition("?")
    db_url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "POS_DATABASE_URL": db_url, "POS_DATA_DIR": str(data_dir),
           "POS_ADMIN_TOKEN": ADMIN, "POS_SERVER_PORT": str(port),
           "POS_PLUGINS_EXPORT_PAIN001_DEBTOR_ACCOUNT": "DE89370400440532013000",
           "POS_SERVER_WORKERS": "1"}  # one process: the export is one streamed request
    log_file = data_dir.parent / "service.log"
    with log_file.open("wb") as log_out:
        service = subprocess.Popen([sys.executable, "-m", "pos.cli.main", "run"], env=env,
                                   cwd=ROOT, stdout=log_out, stderr=subprocess.STDOUT)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3600)) as session:
            await wait_healthy(session, url)
            today = date.today()
            program = await call(session, "POST", url + "/v1/programs", {
                "name": "Bench program", "restrictions": ["any"], "face_value": 10**10,
                "valid_from": str(today - timedelta(days=30)),
                "valid_until": str(today + timedelta(days=30))})
            merchant = await call(session, "POST", url + "/v1/merchants",
                                  {"name": "基准测试商店 Bench shop"})
            till = await call(session, "POST", url + f"/v1/merchants/{merchant['id']}/tills",
                              {"name": "till"})
            await call(session, "PUT", url + f"/v1/merchants/{merchant['id']}/payout-account",
                       {"account_name": "Bench shop", "account_id": "6222020200112233445"})
            voucher = (await call(session, "POST", url + f"/v1/programs/{program['id']}/vouchers",
                                  {"beneficiaries": [{"ref": "bench-1"}]}))["vouchers"][0]

            conn = await asyncpg.connect(db_url)
            try:
                # Set-up only: skip the foreign-key triggers while writing synthetic rows
                # (needs a superuser, as the embedded server's is; otherwise just slower).
                await conn.execute("SET session_replication_role = replica")
            except asyncpg.InsufficientPrivilegeError:
                pass
            started = time.perf_counter()
            await insert_synthetic_redemptions(
                conn, shop=_Shop(merchant["id"], till["id"]),  # type: ignore[arg-type]
                program_id=program["id"], voucher_id=voucher["id"], count=count)
            await conn.execute("ANALYZE")
            inserted = time.perf_counter() - started
            await conn.close()
            print(f"{count:,} redemptions written in {inserted:.1f} s")

            started = time.perf_counter()
            run = await call(session, "POST", url + "/v1/settlements", {
                "period_end": datetime.now(tz=UTC).isoformat(), "by": "bench"})
            (batch,) = run["batches"]
            print(f"settlement run: 1 batch of {batch['line_count']:,} lines, total "
                  f"{batch['total']:,} minor units, in {time.perf_counter() - started:.1f} s")
            await call(session, "POST", url + f"/v1/settlements/{batch['id']}/approve",
                       {"by": "bench"})

            # The batch's rows were just written: read them once, so neither the first
            # format timed nor the reference pays for the first read of fresh rows.
            conn = await asyncpg.connect(db_url)
            await conn.execute("SELECT sum(amount) FROM settlement_lines WHERE batch_id = $1",
                               batch["id"])
            await conn.close()
            idle = rss_mib(service.pid)
            print(f"service resident memory before exporting: {idle:.0f} MiB")
            timings: dict[str, float] = {}
            print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"{'format':<8} {'seconds':>8} {'MiB out':>9} {'lines/s':>10} "
                  f"{'peak RSS':>9} {'growth':>7}  sha256 recorded")
            for fmt in ("csv", "json", "pain001"):
                seconds, size, sha, peak = await download(
                    session, url + f"/v1/settlements/{batch['id']}/export/{fmt}", service.pid,
                    log_file)
                timings[fmt] = seconds
                detail = await call(session, "GET", url + f"/v1/settlements/{batch['id']}")
                recorded = {e["format"]: e["sha256"] for e in detail["exports"]}
                same = "yes" if recorded.get(fmt) == sha else "NO"
                # pain.001 carries one payment per merchant, not the lines.
                rate = "-" if fmt == "pain001" else f"{batch['line_count'] / seconds:,.0f}"
                print(f"{fmt:<8} {seconds:>8.1f} {size / 2**20:>9.1f} {rate:>10} {peak:>6.0f} MiB "
                      f"{peak - idle:>+4.0f} MiB  {same}")
            # Reference, same run: PostgreSQL's own COPY of the batch's lines to CSV, with
            # the columns of the CSV export formatted as it formats them (formula cells
            # prefixed, local time with its offset, amounts in major and in minor units),
            # streamed to this process, which hashes it as it hashes a download. COPY writes
            # LF, not CRLF, and no BOM: one byte a line less than the export.
            conn = await asyncpg.connect(db_url)
            try:
                counted = [0]
                copy_digest = hashlib.sha256()

                async def sink(chunk: bytes) -> None:
                    counted[0] += len(chunk)
                    copy_digest.update(chunk)

                await conn.execute("SET TIME ZONE 'Asia/Shanghai'")
                words = KINDS["zh-CN"]  # a line's kind as the export says it (Chinese)
                started = time.perf_counter()
                await conn.copy_from_query(REFERENCE_COPY, batch["id"], words["redemption"],
                                           words["adjustment"], output=sink,
                                           format="csv", header=True)
                copy_seconds = time.perf_counter() - started
            finally:
                await conn.close()
            print(f"{'COPY csv':<8} {copy_seconds:>8.1f} {counted[0] / 2**20:>9.1f} "
                  f"{batch['line_count'] / copy_seconds:>10,.0f}   (reference: the database's "
                  "own CSV of the same columns)")
            for fmt in ("csv", "json"):
                print(f"{fmt} speed / COPY speed: {copy_seconds / timings[fmt]:.2f}")
            print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"service peak resident memory over its life (VmHWM): "
                  f"{rss_mib(service.pid, 'VmHWM'):.0f} MiB")
    finally:
        service.terminate()
        service.wait(timeout=30)
        admin_conn = await asyncpg.connect(server)
        await admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin_conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redemptions", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pos-bench-") as tmp:
        server = os.environ.get("POS_DATABASE_URL") or embedded_url(Path(tmp) / "server")
        asyncio.run(bench(args.redemptions, server, Path(tmp) / "data"))


if __name__ == "__main__":
    main()
