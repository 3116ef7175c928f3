"""Redemptions per second over HTTP, next to the same SQL through pgbench and pgbench TPC-B.

    .venv/bin/python bench/redeem.py [--tills 32] [--seconds 15] [--large 1000000]
                                     [--workers 1,2]

One run prints, for 10,000 vouchers and again for `--large` vouchers (generated with SQL):

- HTTP redemptions/s with p50/p99 latency: the real service (`pos run`, its own processes,
  once per worker count of `--workers`) driven by `wrk` (a compiled load generator;
  installed with apt-get when missing) with a Lua script, one connection per till, a fresh
  Idempotency-Key per request; then the same tills paced at half that rate, for the
  latency a till sees when the service is busy but not saturated (in the closed loop, 32
  tills queue: latency is at least 32 / throughput);
- the CPU the service and the database spent per redemption, and what the database's busy
  backends were waiting on (sampled from pg_stat_activity while the load ran);
- the outbox backlog when the load stops, how long the service takes to deliver it, and the
  redemptions per second counting a redemption only once its event is delivered;
- the stack's floor (`bench/stack_floor.py`): an aiohttp and asyncpg service that sends the
  same two statements per sale and does nothing else, driven by the same wrk script; what
  any service of this design could reach here;
- the database-only ceiling: the statements the till's path sends, driven by pgbench with as
  many clients (the service is stopped meanwhile), and the database's CPU per redemption;
- pgbench TPC-B on the same server, same clients and duration;
- the ratios HTTP / database-only, floor / database-only, HTTP / floor and
  database-only / TPC-B.

Client, service and database share this machine's cores, so the figures compare, they do not
certify: read the ratios, and the load average printed beside them. On a machine shared with
other work, identical runs differ by a fifth in throughput; the CPU each redemption costs
moves less, so HTTP / database-only is also printed by CPU per redemption.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
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

from bench.service import (  # noqa: E402
    free_port,
    rss_mib,
    tree_cpu_seconds,
    wait_healthy,
    with_database,
)
from bench.stack_floor import peek_jti, sale_answer, sale_line  # noqa: E402
from pos.db.embedded import embedded_url, postmaster_pid  # noqa: E402
from pos.storage import claim_and_redeem as fresh_sql  # noqa: E402

ADMIN = "adm_bench_" + uuid.uuid4().hex
PACED_SHARE = 0.5  # the paced run's rate, as a share of the closed loop's throughput
VOUCHERS_PER_TILL = 4  # tills take their vouchers in turn, so two sales rarely share a lock
BASKET_LINE = {"sku": "RICE-5KG", "category": "food", "description": "Rice 5 kg",
               "quantity": 1, "unit_price": 100}


# ------------------------------------------------------------------------------------------
# tools


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("installing wrk (Debian package) for the load generator ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    "wrk"], check=True, env=env, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


def pgbench_path() -> str:
    import pgserver  # the embedded server ships pgbench beside postgres

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("pgbench")
    if not found:
        raise SystemExit("pgbench not found (install postgresql-client)")
    return found


def pg_args(server: str) -> list[str]:
    parsed = urlparse(server)
    host = parse_qs(parsed.query).get("host", [parsed.hostname or "127.0.0.1"])[0]
    out = ["-h", host, "-U", parsed.username or "postgres"]
    if parsed.port:
        out += ["-p", str(parsed.port)]
    return out


def run_pgbench(server: str, database: str, clients: int, seconds: int,
                extra: list[str]) -> tuple[float, float]:
    done = subprocess.run(
        [pgbench_path(), *pg_args(server), "-c", str(clients), "-j", "2", "-T", str(seconds),
         "-M", "prepared", *extra, database], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms",  # type: ignore[union-attr]
                              done.stdout).group(1))
    return tps, latency


# ------------------------------------------------------------------------------------------
# the service and its data


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


class Service:
    """`pos run` as its own process, as an operator starts it."""

    def __init__(self, env: dict[str, str], url: str,
                 command: tuple[str, ...] = ("pos.cli.main", "run")) -> None:
        self.env, self.url, self.command = env, url, command
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", *self.command], env=self.env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, self.url)

    def cpu_seconds(self) -> float:
        """User and system CPU the service (its workers included) has used so far."""
        if self.process is None:
            return float("nan")
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> float:
        """Stops it; returns its peak resident memory in MiB (the largest of its
        processes')."""
        if self.process is None:
            return float("nan")
        pids = [self.process.pid, *_children(self.process.pid)]
        rss = max(rss_mib(pid, "VmHWM") for pid in pids)
        self.process.terminate()
        self.process.wait(timeout=30)
        self.process = None
        return rss


async def set_up(url: str, tills: int) -> tuple[str, list[tuple[str, str, str]]]:
    """A program, a shop, `tills` tills and VOUCHERS_PER_TILL vouchers each: returns the
    program id and (till secret, till id, token) per voucher."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    today = date.today()
    async with aiohttp.ClientSession() as session:
        program = await post(session, url + "/v1/programs", {
            "name": "Bench", "restrictions": ["any"], "face_value": 10**12,
            "valid_from": str(today - timedelta(days=1)),
            "valid_until": str(today + timedelta(days=30))}, admin)
        merchant = await post(session, url + "/v1/merchants", {"name": "Bench shop"}, admin)
        await post(session, url + f"/v1/programs/{program['id']}/merchants",
                   {"merchant_id": merchant["id"]}, admin)
        count = tills * VOUCHERS_PER_TILL
        vouchers = (await post(session, url + f"/v1/programs/{program['id']}/vouchers", {
            "beneficiaries": [{"ref": f"bench-{i}"} for i in range(count)]}, admin)
        )["vouchers"]
        made = [await post(session, url + f"/v1/merchants/{merchant['id']}/tills",
                           {"name": f"till {i}"}, admin) for i in range(tills)]
    return program["id"], [(made[i % tills]["secret"], made[i % tills]["id"],
                            vouchers[i]["token"]) for i in range(count)]


async def add_vouchers(db: str, program_id: str, upto: int) -> float:
    """Fill the program up to `upto` vouchers with SQL (each with a credit and its balanced
    issue entries); returns the seconds it took."""
    started = time.perf_counter()
    conn = await asyncpg.connect(db)
    try:
        have = await conn.fetchval("SELECT count(*) FROM vouchers")
        kid = await conn.fetchval("SELECT kid FROM signing_keys WHERE status = 'active'")
        step = 250_000
        for first in range(have, upto, step):
            last = min(upto, first + step)
            async with conn.transaction():
                await conn.execute("""
                    CREATE TEMP TABLE fill ON COMMIT DROP AS
                    SELECT gen_random_uuid() AS id, gen_random_uuid() AS txn, g
                      FROM generate_series($1::int, $2::int - 1) AS g""", first, last)
                await conn.execute("""
                    INSERT INTO vouchers (id, program_id, beneficiary_ref, token_kid,
                                          token_iat, token_exp, code_hash)
                    SELECT id, $1, 'fill-' || g, $2, 0, 0, sha256(('fill-' || g)::bytea)
                      FROM fill""", program_id, kid)
                await conn.execute("""
                    INSERT INTO credits (voucher_id, kind, amount, remaining, valid_from,
                                         valid_until)
                    SELECT id, 'grant', 5000, 5000, now() - interval '1 day',
                           now() + interval '30 days' FROM fill""")
                await conn.execute("""
                    INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount,
                                                currency, program_id, voucher_id)
                    SELECT f.txn, 'issue', e.account,
                           CASE WHEN e.account = 'voucher' THEN f.id ELSE $1::uuid END,
                           e.sign * 5000, 'CNY', $1, f.id
                      FROM fill f CROSS JOIN (VALUES ('program_funding', -1),
                                                     ('voucher', 1)) AS e(account, sign)
                    """, program_id)
        await conn.execute("VACUUM ANALYZE vouchers, credits, ledger_entries")
    finally:
        await conn.close()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------------
# HTTP load: wrk and its Lua script

LUA = """
local all = %(pairs)s
local prefix = "%(prefix)s"
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(args[1])
  mine = {}
  for i, p in ipairs(all) do
    if (i - 1) %% nthreads == tid then table.insert(mine, p) end
  end
  sent = 0
  pace = tonumber(args[2]) or 0
  math.randomseed(tid * 7919 + 17)
end
%(delay)s
function request()
  sent = sent + 1
  local p = mine[(sent %% #mine) + 1]
  return wrk.format("POST", "/v1/redemptions", {
    ["Authorization"] = "Bearer " .. p[1],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. sent}, p[2])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII is a valid Lua string literal


# A paced run: each connection waits a random 0 to 2 * `pace` ms before its next sale, so the
# tills send at a steady rate below what the service can take and queueing stays out of the
# latency (wrk measures from the request's send to its answer, the wait not included).
PACED = """
function delay()
  return math.random() * 2 * pace
end
"""


def write_lua(path: Path, pairs: list[tuple[str, str, str]], prefix: str,
              paced: bool = False) -> None:
    rows = []
    for secret, _, token in pairs:
        body = json.dumps({"token": token, "basket": {"currency": "CNY",
                                                      "lines": [BASKET_LINE]}})
        rows.append("{" + lua_string(secret) + ", " + lua_string(body) + "}")
    path.write_text(LUA % {"pairs": "{\n" + ",\n".join(rows) + "\n}", "prefix": prefix,
                           "delay": PACED if paced else ""})


def run_wrk(wrk: str, workdir: Path, url: str, pairs: list[tuple[str, str, str]],
            tills: int, seconds: float, rate: float = 0.0) -> dict[str, float]:
    """A closed loop: each of `tills` connections sends its next sale as soon as the last
    is answered; or, with `rate` (sales/s over all tills), a paced one at about that rate."""
    script = workdir / "redeem.lua"
    # Fresh keys: never a replayed answer.
    write_lua(script, pairs, secrets.token_hex(6), paced=rate > 0)
    threads = 2
    pace_ms = 1000 * tills / rate if rate > 0 else 0.0
    done = subprocess.run(
        [wrk, "-t", str(threads), "-c", str(tills), "-d", f"{max(1, round(seconds))}s",
         "--timeout", "10s", "-s", str(script), url, "--", str(threads), f"{pace_ms:.3f}"],
        capture_output=True, text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    requests, duration_us, errors, p50, p99 = (int(x) for x in line.split()[1:])
    return {"requests": requests, "seconds": duration_us / 1e6, "errors": errors,
            "p50_ms": p50 / 1000, "p99_ms": p99 / 1000}


# ------------------------------------------------------------------------------------------
# the same SQL through pgbench


def _substitute(sql: str, values: dict[int, str]) -> str:
    # Highest numbers first, so $1 never eats the start of $15.
    for n in sorted(values, reverse=True):
        sql = sql.replace(f"${n}", values[n])
    return sql


def one_line(sql: str) -> str:
    """pgbench ends a command at a semicolon: comments go, and whitespace collapses."""
    return " ".join(re.sub(r"--[^\n]*", "", sql).split())


def same_sql_script() -> str:
    """The till path's statements for a fresh cash sale, as the service sends them: the
    voucher's read-only load (with whether the key was used), then `pos_redeem` storing the
    new key with its answer, one statement and its own transaction
    (`pos.storage.claim_and_redeem`).
    Each client works on its own vouchers (table bench_pairs, one of its four picked at
    random) with a fresh idempotency key per sale.

    The pair is read first, on its own (`\\gset`): the statements then get plain bound
    values, as the service's do, instead of re-reading bench_pairs in a subquery for every
    argument (eight reads per sale that the service never makes)."""
    pick = ":{}::{}"
    kinds = {"voucher_id": "uuid", "kid": "text", "merchant_id": "uuid", "till_id": "uuid",
             "token_iat": "bigint"}

    def value(column: str) -> str:
        return pick.format(column, kinds[column])

    key = "('pgb-' || :k::text)"
    load = _substitute(fresh_sql.LOAD_BY_ID, {
        1: value("voucher_id"), 2: value("kid"), 3: value("merchant_id"),
        4: value("till_id"), 5: key})
    line = sale_line(BASKET_LINE)
    response = sale_answer(line, **{name: str(uuid.uuid4()) for name in (
        "id", "voucher_id", "program_id", "merchant_id", "till_id")})
    redeem = _substitute(fresh_sql.CLAIM_AND_REDEEM, {
        1: "pos_uuid7()",
        2: value("voucher_id"), 3: value("merchant_id"),
        4: value("till_id"), 5: key, 6: "md5(:k::text)::uuid",
        7: "'CNY'", 8: "100", 9: "100", 10: "100", 11: "NULL::bigint", 12: "'cash'",
        13: "'" + json.dumps([line]) + "'::jsonb",
        14: "'" + json.dumps(response) + "'::jsonb", 15: value("token_iat"),
        16: f"sha256({key}::bytea)"})
    steps = [
        f"\\set n (:client_id * {VOUCHERS_PER_TILL}) % :npairs + random(1, "
        f"{VOUCHERS_PER_TILL})",
        "\\set k random(1, 9000000000000000)",
        "SELECT voucher_id, kid, merchant_id, till_id, token_iat FROM bench_pairs "
        "WHERE n = :n \\gset",
    ]
    return "\n".join([*steps, one_line(load) + ";", one_line(redeem) + ";"]) + "\n"


async def prepare_pairs(db: str, pairs: list[tuple[str, str, str]]) -> None:
    conn = await asyncpg.connect(db)
    try:
        await conn.execute("""
            DROP TABLE IF EXISTS bench_pairs;
            CREATE TABLE bench_pairs (n integer PRIMARY KEY, voucher_id uuid, kid text,
                                      merchant_id uuid, till_id uuid, token_iat bigint)""")
        till_ids = [uuid.UUID(till_id) for _, till_id, _ in pairs]
        voucher_ids = [uuid.UUID(peek_jti(token)) for _, _, token in pairs]
        await conn.execute("""
            INSERT INTO bench_pairs
            SELECT u.n, v.id, v.token_kid, t.merchant_id, t.id, v.token_iat
              FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS u(voucher_id, till_id, n)
              JOIN vouchers v ON v.id = u.voucher_id JOIN tills t ON t.id = u.till_id""",
            voucher_ids, till_ids)
    finally:
        await conn.close()


async def outbox_backlog(db: str) -> int:
    conn = await asyncpg.connect(db)
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM outbox_events WHERE delivered_at IS NULL "
            "AND failed_at IS NULL")
        return n
    finally:
        await conn.close()


async def drain_seconds(db: str, limit: float = 300.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if not await outbox_backlog(db):
            break
        await asyncio.sleep(0.25)
    return time.perf_counter() - started


async def mark_delivered(db: str) -> None:
    """pgbench's sales make events too; they are not the service's to deliver."""
    conn = await asyncpg.connect(db)
    try:
        await conn.execute("UPDATE outbox_events SET delivered_at = now() "
                           "WHERE delivered_at IS NULL")
    finally:
        await conn.close()


# ------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class DatabaseCpu:
    """CPU seconds of the PostgreSQL server (the postmaster and every backend)."""

    def __init__(self, data_dir: Path) -> None:
        pid = postmaster_pid(data_dir)
        if pid is None:
            raise SystemExit("the embedded PostgreSQL server is not running")
        self.pid = pid

    def seconds(self) -> float:
        return tree_cpu_seconds(self.pid)


async def sample_waits(db: str, stop: asyncio.Event) -> str:
    """What the database's busy backends were doing while the load ran, sampled every 50 ms
    from pg_stat_activity: how many were busy on average, and the three commonest waits
    ("running" when a backend waits on nothing)."""
    conn = await asyncpg.connect(db)
    seen: dict[str, int] = {}
    samples = busy = 0
    try:
        while not stop.is_set():
            rows = await conn.fetch("""
                SELECT coalesce(wait_event_type || ':' || wait_event, 'running') AS what
                  FROM pg_stat_activity
                 WHERE backend_type = 'client backend' AND state <> 'idle'
                   AND pid <> pg_backend_pid()""")
            samples += 1
            busy += len(rows)
            for row in rows:
                seen[row["what"]] = seen.get(row["what"], 0) + 1
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    top = sorted(seen.items(), key=lambda kv: -kv[1])[:3]
    return (f"{busy / max(samples, 1):9.1f} busy on average; "
            + ", ".join(f"{what} {100 * n / max(busy, 1):.0f}%" for what, n in top))


async def http_run(args: argparse.Namespace, workers: int, wrk: str, workdir: Path,
                   service: Service, database: DatabaseCpu, db: str,
                   pairs: list[tuple[str, str, str]]) -> dict[str, Any]:
    """wrk against `pos run` with `workers` processes; the figures of one run."""
    service.env["POS_SERVER_WORKERS"] = str(workers)
    await service.start()
    run_wrk(wrk, workdir, service.url, pairs, args.tills, args.warmup)
    await drain_seconds(db)
    cpu_before, db_before = service.cpu_seconds(), database.seconds()
    stop = asyncio.Event()
    sampling = asyncio.create_task(sample_waits(db, stop))
    http = await asyncio.to_thread(run_wrk, wrk, workdir, service.url, pairs, args.tills,
                                   args.seconds)
    stop.set()
    waits = await sampling
    backlog = await outbox_backlog(db)
    drain = await drain_seconds(db)
    cpu, db_cpu = service.cpu_seconds() - cpu_before, database.seconds() - db_before
    ok = http["requests"] - http["errors"]
    # The same tills paced at half the rate just measured: the latency a till sees when the
    # service is busy but not saturated, without the closed loop's queue in front of it.
    paced = await asyncio.to_thread(run_wrk, wrk, workdir, service.url, pairs, args.tills,
                                    args.seconds, PACED_SHARE * ok / http["seconds"])
    await drain_seconds(db)
    rss = service.stop()
    return {**http, "ok": ok, "rps": ok / http["seconds"], "paced": paced,
            "sustained": ok / (http["seconds"] + drain), "backlog": backlog, "drain": drain,
            "cpu_ms": 1000 * cpu / max(ok, 1), "db_ms": 1000 * db_cpu / max(ok, 1),
            "cores": cpu / (http["seconds"] + drain), "rss": rss, "waits": waits}


async def floor_run(args: argparse.Namespace, wrk: str, workdir: Path,
                    database: DatabaseCpu, db: str, pairs: list[tuple[str, str, str]]
                    ) -> dict[str, Any]:
    """wrk against the stack's floor (`bench/stack_floor.py`) on the same database: the
    figures of one run. Its sales' events are marked delivered afterwards, as pgbench's."""
    tills = workdir / "tills.json"
    tills.write_text(json.dumps({secret: till_id for secret, till_id, _ in pairs}))
    port = free_port()
    floor = Service(dict(os.environ), f"http://127.0.0.1:{port}",
                    ("bench.stack_floor", db, str(port), str(tills)))
    await floor.start()
    run_wrk(wrk, workdir, floor.url, pairs, args.tills, args.warmup)
    cpu_before, db_before = floor.cpu_seconds(), database.seconds()
    http = await asyncio.to_thread(run_wrk, wrk, workdir, floor.url, pairs, args.tills,
                                   args.seconds)
    cpu, db_cpu = floor.cpu_seconds() - cpu_before, database.seconds() - db_before
    rss = floor.stop()
    await mark_delivered(db)
    ok = http["requests"] - http["errors"]
    return {**http, "ok": ok, "rps": ok / http["seconds"], "rss": rss,
            "cpu_ms": 1000 * cpu / max(ok, 1), "db_ms": 1000 * db_cpu / max(ok, 1)}


async def phase(label: str, args: argparse.Namespace, wrk: str, workdir: Path, server: str,
                service: Service, db: str, pairs: list[tuple[str, str, str]]
                ) -> dict[str, float]:
    database = DatabaseCpu(workdir / "data")
    runs = {w: await http_run(args, w, wrk, workdir, service, database, db, pairs)
            for w in args.workers}
    floor = await floor_run(args, wrk, workdir, database, db, pairs)
    script = workdir / "same_sql.sql"
    script.write_text(same_sql_script())
    db_before = database.seconds()
    stop = asyncio.Event()
    sampling = asyncio.create_task(sample_waits(db, stop))
    db_tps, db_latency = await asyncio.to_thread(
        run_pgbench, server, "bench", args.tills, args.seconds,
        ["-n", "-f", str(script), "-D", f"npairs={len(pairs)}"])
    stop.set()
    db_waits = await sampling
    db_only_ms = 1000 * (database.seconds() - db_before) / max(db_tps * args.seconds, 1)
    await mark_delivered(db)
    tpcb, tpcb_latency = run_pgbench(server, "pgbench", args.tills, args.seconds, [])
    print(f"\n== {label} (load average {os.getloadavg()[0]:.2f}) ==")
    for workers, run in runs.items():
        print(f"HTTP redemptions, {args.tills} tills, {workers} service worker"
              f"{'s' if workers > 1 else ''} (wrk, {args.seconds} s): {run['requests']:.0f} "
              f"sent, {run['errors']:.0f} not 2xx")
        print(f"  throughput          {run['rps']:9.1f} redemptions/s")
        print(f"  latency p50 / p99   {run['p50_ms']:9.2f} / {run['p99_ms']:.2f} ms "
              f"(closed loop: a till sends again once answered)")
        paced = run["paced"]
        paced_rps = (paced["requests"] - paced["errors"]) / paced["seconds"]
        print(f"  paced, half rate    {paced_rps:9.1f} redemptions/s, latency p50 / p99 "
              f"{paced['p50_ms']:.2f} / {paced['p99_ms']:.2f} ms, {paced['errors']:.0f} not 2xx")
        print(f"  outbox backlog      {run['backlog']:9.0f} events undelivered at the end "
              f"({100 * run['backlog'] / max(run['ok'], 1):.0f}% of the run's), delivered "
              f"{run['drain']:.1f} s later")
        print(f"  events included     {run['sustained']:9.1f} redemptions/s (a sale counts "
              f"once its event is delivered)")
        print(f"  service CPU         {run['cpu_ms']:9.2f} ms per redemption, its event's "
              f"delivery included ({run['cores']:.2f} cores busy on average)")
        print(f"  database CPU        {run['db_ms']:9.2f} ms per redemption (all backends)")
        print(f"  service peak RSS    {run['rss']:9.1f} MiB (largest process)")
        print(f"  database backends   {run['waits']}")
    print(f"stack floor, {args.tills} tills (bench/stack_floor.py: aiohttp and asyncpg, the "
          f"same two statements, no token check, rules or event delivery): "
          f"{floor['requests']:.0f} sent, {floor['errors']:.0f} not 2xx")
    print(f"  throughput          {floor['rps']:9.1f} redemptions/s")
    print(f"  latency p50 / p99   {floor['p50_ms']:9.2f} / {floor['p99_ms']:.2f} ms")
    print(f"  service CPU         {floor['cpu_ms']:9.2f} ms per redemption")
    print(f"  database CPU        {floor['db_ms']:9.2f} ms per redemption (all backends)")
    print(f"same SQL through pgbench, {args.tills} clients (load, then claim and redeem):")
    print(f"  throughput          {db_tps:9.1f} redemptions/s, latency avg "
          f"{db_latency:.2f} ms")
    print(f"  database CPU        {db_only_ms:9.2f} ms per redemption (all backends)")
    print(f"  database backends   {db_waits}")
    print(f"pgbench TPC-B, {args.tills} clients, same server:")
    print(f"  throughput          {tpcb:9.1f} tps, latency avg {tpcb_latency:.2f} ms")
    for workers, run in runs.items():
        print(f"ratios, {workers} worker{'s' if workers > 1 else ''}: HTTP / database-only = "
              f"{run['rps'] / db_tps:.2f}; events included / database-only = "
              f"{run['sustained'] / db_tps:.2f}")
        print(f"  by CPU per redemption: database-only {db_only_ms:.2f} ms / HTTP "
              f"{run['cpu_ms'] + run['db_ms']:.2f} ms (service and database) = "
              f"{cpu_ratio(run, db_only_ms):.2f}")
    print(f"stack floor: floor / database-only = {floor['rps'] / db_tps:.2f} (by CPU "
          f"{cpu_ratio(floor, db_only_ms):.2f}); "
          + "; ".join(f"HTTP with {w} worker{'s' if w > 1 else ''} / floor = "
                      f"{run['rps'] / floor['rps']:.2f}" for w, run in runs.items()))
    print(f"ratio: database-only / TPC-B = {db_tps / tpcb:.2f}", flush=True)
    first = runs[args.workers[0]]
    return {"rps": first["rps"], "db": db_tps, "tpcb": tpcb,
            "cpu_ratio": cpu_ratio(first, db_only_ms)}


def cpu_ratio(run: dict[str, Any], db_only_ms: float) -> float:
    """HTTP / database-only as the CPU each redemption costs (what the throughputs' ratio
    would be if both were bound by this machine's cores, load generators aside): steadier
    than the throughputs when other work on the machine comes and goes."""
    return db_only_ms / max(float(run["cpu_ms"] + run["db_ms"]), 1e-9)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tills", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", default="1,2",
                        help="service worker processes to measure, comma separated")
    parser.add_argument("--small", type=int, default=10_000, help="vouchers, first phase")
    parser.add_argument("--large", type=int, default=1_000_000,
                        help="vouchers, second phase (0: skip it)")
    args = parser.parse_args()
    args.workers = [int(w) for w in str(args.workers).split(",")]

    wrk = ensure_wrk()
    print(f"machine: {os.cpu_count()} cores, load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="pos-bench-"))
    try:
        server = await asyncio.to_thread(embedded_url, workdir / "data")
        await create_database(server, "bench")
        await create_database(server, "pgbench")
        subprocess.run([pgbench_path(), *pg_args(server), "-i", "-q", "-s", "10", "pgbench"],
                       check=True, capture_output=True)
        port = free_port()
        db = with_database(server, "bench")
        env = {**os.environ, "POS_DATABASE_URL": db, "POS_DATA_DIR": str(workdir / "data"),
               "POS_ADMIN_TOKEN": ADMIN, "POS_SERVER_PORT": str(port),
               "POS_SERVER_WORKERS": "1",  # each HTTP run sets its own (--workers)
               "POS_DATABASE_POOL_MAX_SIZE": str(args.tills)}
        service = Service(env, f"http://127.0.0.1:{port}")
        await service.start()
        program_id, pairs = await set_up(service.url, args.tills)
        service.stop()
        await prepare_pairs(db, pairs)
        took = await add_vouchers(db, program_id, args.small)
        print(f"{args.small} vouchers ({took:.1f} s to generate)", flush=True)
        small = await phase(f"{args.small:,} vouchers", args, wrk, workdir, server, service,
                            db, pairs)
        if args.large > args.small:
            took = await add_vouchers(db, program_id, args.large)
            print(f"\n{args.large} vouchers ({took:.1f} s to generate)", flush=True)
            large = await phase(f"{args.large:,} vouchers", args, wrk, workdir, server,
                                service, db, pairs)
            print(f"\ncost against data: at {args.large:,} vouchers, HTTP / database-only "
                  f"{large['rps'] / large['db']:.2f} (was {small['rps'] / small['db']:.2f}; "
                  f"by CPU {large['cpu_ratio']:.2f}, was {small['cpu_ratio']:.2f}), "
                  f"database-only / TPC-B {large['db'] / large['tpcb']:.2f} "
                  f"(was {small['db'] / small['tpcb']:.2f})")
        verify = subprocess.run([sys.executable, "-m", "pos.cli.main", "verify"], env=env,
                                capture_output=True, text=True)
        print(f"ledger verify: {'ok' if verify.returncode == 0 else 'FAILED'}; load average "
              f"at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if verify.returncode != 0:
            print("\n".join((verify.stdout + verify.stderr).splitlines()[-15:]))
    finally:
        stop_server(workdir / "data")
        shutil.rmtree(workdir, ignore_errors=True)


def stop_server(data_dir: Path) -> None:
    """Stop the embedded server before its folder goes (pgserver's own clean-up at exit
    would no longer find it): a fast shutdown of the postmaster named in its pid file."""
    for pid_file in data_dir.glob("**/postmaster.pid"):
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGINT)
        except (OSError, ValueError, IndexError):
            continue
        for _ in range(300):
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main())
