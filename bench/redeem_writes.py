"""What one redemption writes, next to what one TPC-B transaction writes, on the same server.

    .venv/bin/python bench/redeem_writes.py [--transactions 2000] [--clients 4]

The till path's statements (the same pgbench script as `bench/redeem.py` builds from the
storage modules' SQL) and then pgbench's TPC-B each run a fixed number of transactions;
around each run the server's counters are read, and the WAL between the two positions is
summarised by `pg_waldump`. Printed per transaction:

- WAL records, bytes and full-page images, and the records by kind (heap inserts, updates,
  HOT updates, row locks, index inserts, multixacts, commits ...);
- rows inserted, updated (HOT or not) and row locks per table;
- the functions and triggers called, with their own time (`track_functions`);
- single-client latency of each script (CPU and one commit's flush, no contention);
- then the same for the service's delivery of the events the till path's run left in the
  outbox (`pos run` with one worker, started until the outbox is empty), per event.

Counts do not depend on the machine's load, unlike the throughput figures: they say what a
redemption costs the database, and what a change removed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.redeem import (  # noqa: E402
    ADMIN,
    Service,
    create_database,
    pg_args,
    pgbench_path,
    prepare_pairs,
    same_sql_script,
    set_up,
    stop_server,
)
from bench.service import free_port, tree_cpu_seconds, with_database  # noqa: E402
from pos.db.embedded import embedded_url  # noqa: E402

TABLE_COUNTERS = """
    SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
      FROM pg_stat_user_tables"""
FUNCTION_COUNTERS = "SELECT funcname, calls, self_time FROM pg_stat_user_functions"


def server_cpu(data: Path) -> float:
    """CPU seconds the server has used: the postmaster and every backend, ended ones
    included."""
    pid_file = next(data.glob("**/postmaster.pid"))
    return tree_cpu_seconds(int(pid_file.read_text().split()[0]))


def waldump_path() -> str:
    return str(Path(pgbench_path()).parent / "pg_waldump")


async def snapshot(url: str) -> dict[str, object]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        await asyncio.sleep(1.2)  # backends that ended flush their counters within a second
        return {
            "lsn": await conn.fetchval("SELECT pg_current_wal_insert_lsn()::text"),
            "tables": {r["relname"]: tuple(r)[1:] for r in await conn.fetch(TABLE_COUNTERS)},
            "functions": {r["funcname"]: (r["calls"], r["self_time"])
                          for r in await conn.fetch(FUNCTION_COUNTERS)},
        }
    finally:
        await conn.close()


def waldump(pg_wal: Path, start: str, end: str) -> list[tuple[str, int, int]]:
    """(record kind, count, bytes incl. full-page images) between two positions."""
    done = subprocess.run([waldump_path(), "-p", str(pg_wal), "-s", start, "-e", end,
                           "--stats=record"], capture_output=True, text=True)
    out = []
    for line in done.stdout.splitlines():
        m = re.match(r"\s*(\S+(?:/\S+)?)\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)\s+\(\s*[\d.]+\)"
                     r"\s+(\d+)\s+\(\s*[\d.]+\)\s+(\d+)", line)
        if m and m.group(1) != "Total":
            out.append((m.group(1), int(m.group(2)), int(m.group(5))))
    return out


def run_fixed(server: str, database: str, clients: int, transactions: int,
              extra: list[str], track: bool = True) -> float:
    env = {**os.environ}
    if track:
        env["PGOPTIONS"] = "-c track_functions=all"
    done = subprocess.run(
        [pgbench_path(), *pg_args(server), "-c", str(clients), "-j", "1",
         "-t", str(transactions // clients), "-M", "prepared", *extra, database],
        capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    return float(re.search(r"latency average = ([\d.]+) ms",  # type: ignore[union-attr]
                           done.stdout).group(1))


async def measure(label: str, server: str, database: str, data: Path, clients: int,
                  transactions: int, extra: list[str]) -> None:
    def run() -> int:
        run_fixed(server, database, clients, transactions, extra)
        return (transactions // clients) * clients

    await counted(label, f"{clients} clients", server, database, data, run)
    latency = run_fixed(server, database, 1, 200, extra, track=False)
    print(f"single client latency: {latency:.3f} ms")


async def measure_delivery(server: str, data: Path, service: Service) -> None:
    """The service's delivery of the outbox the till path's run left: what one delivered
    event costs the database (claim, listeners' success, delivered), per event."""
    async def drain() -> None:
        await service.start()
        try:
            while await backlog(with_database(server, "bench")):  # noqa: ASYNC110
                await asyncio.sleep(0.2)  # another process does the work: poll it
        finally:
            service.stop()

    waiting = await backlog(with_database(server, "bench"))

    def run() -> int:
        asyncio.run(drain())
        return waiting

    await counted("event delivery (the service, 1 worker)", "the background task", server,
                  "bench", data, run)


async def backlog(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM outbox_events WHERE delivered_at IS NULL "
            "AND failed_at IS NULL")
        return n
    finally:
        await conn.close()


async def counted(label: str, who: str, server: str, database: str, data: Path,
                  run: Callable[[], int]) -> None:
    """Runs `run` (which returns how many operations it made) between two reads of the
    server's counters and prints them per operation."""
    pg_wal = next(data.glob("**/pg_wal"))  # noqa: ASYNC240 (a bench: nothing else runs)
    url = with_database(server, database)
    before = await snapshot(url)
    cpu = server_cpu(data)
    n = await asyncio.to_thread(run)
    cpu = server_cpu(data) - cpu
    after = await snapshot(url)
    print(f"\n== {label}: {n} operations, {who} ==")
    records = waldump(pg_wal, str(before["lsn"]), str(after["lsn"]))
    total = sum(c for _, c, _ in records)
    size = sum(b for _, _, b in records)
    print(f"WAL per operation: {total / n:.1f} records, {size / n:.0f} bytes")
    for kind, count, nbytes in sorted(records, key=lambda r: -r[1]):
        if count / n >= 0.05:
            print(f"  {kind:32s} {count / n:6.2f}  ({nbytes / n:7.0f} bytes)")
    print("rows per operation (inserted, updated, of which HOT, deleted):")
    tb, ta = before["tables"], after["tables"]
    assert isinstance(tb, dict) and isinstance(ta, dict)
    for name in sorted(ta):
        delta = [a - b for a, b in zip(ta[name], tb.get(name, (0, 0, 0, 0)), strict=True)]
        if any(d / n >= 0.05 for d in delta):
            print(f"  {name:24s} " + "  ".join(f"{d / n:5.2f}" for d in delta))
    fb, fa = before["functions"], after["functions"]
    assert isinstance(fb, dict) and isinstance(fa, dict)
    calls = [(name, fa[name][0] - fb.get(name, (0, 0))[0],
              fa[name][1] - fb.get(name, (0, 0.0))[1]) for name in fa]
    if any(c for _, c, _ in calls):
        print("functions per operation (calls, own time ms):")
        for name, c, t in sorted(calls, key=lambda x: -x[2]):
            if c:
                print(f"  {name:32s} {c / n:5.2f}  {t / n:6.3f}")
    print(f"server CPU per operation: {1000 * cpu / n:.3f} ms (all its processes)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--tills", type=int, default=32)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pos-bench-"))
    try:
        server = await asyncio.to_thread(embedded_url, workdir / "data")
        await create_database(server, "bench")
        await create_database(server, "pgbench")
        subprocess.run([pgbench_path(), *pg_args(server), "-i", "-q", "-s", "10", "pgbench"],
                       check=True, capture_output=True)
        db = with_database(server, "bench")
        port = free_port()
        env = {**os.environ, "POS_DATABASE_URL": db, "POS_DATA_DIR": str(workdir / "data"),
               "POS_ADMIN_TOKEN": ADMIN, "POS_SERVER_PORT": str(port),
               "POS_SERVER_WORKERS": "1"}
        service = Service(env, f"http://127.0.0.1:{port}")
        await service.start()
        _, pairs = await set_up(service.url, args.tills)
        service.stop()
        await prepare_pairs(db, pairs)
        script = workdir / "same_sql.sql"
        script.write_text(same_sql_script())
        same = ["-n", "-f", str(script), "-D", f"npairs={len(pairs)}"]
        run_fixed(server, "bench", args.clients, 400, same, track=False)  # warm up
        await measure("the till path's SQL", server, "bench", workdir / "data", args.clients,
                      args.transactions, same)
        await measure("pgbench TPC-B", server, "pgbench", workdir / "data", args.clients,
                      args.transactions, ["-n"])
        await measure_delivery(server, workdir / "data", service)
        print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        stop_server(workdir / "data")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
