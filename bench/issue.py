"""Vouchers issued per second by a batch issuance, signing and storage included.

    .venv/bin/python bench/issue.py [--vouchers 100000] [--chunk 1000] [--cards 500]
                                    [--workers N]

Does what `pos issue --program ID list.csv` does, in process, against an embedded
PostgreSQL in a temporary folder ($POS_DATABASE_URL instead, when set): writes a
beneficiary list of the given size, then times

  1. issue + list: reading and checking every row, then writing vouchers, credits and
     ledger entries in chunks in one transaction (a code derived and hashed per voucher),
     signing every voucher's Ed25519 token and writing the list of codes, tokens and
     holder links (what the officer hands out) while the database stores each chunk;
  2. re-export: reading the batch back from the database and signing it again, as
     `pos cards`, the holder page and the API's vouchers.csv do (not part of the total);

(with --cards N, also 3. drawing the first N cards as A4 PDF sheets), and prints
vouchers per second for each, the process's peak memory (which stays flat as the list
grows: the list is streamed, never held), and the ledger check, then the references
measured in the same run, and the load average beside the ratio. The signing reference
is cryptography's Ed25519 `sign` alone over each token's signing input (prepared before
the clock starts): the least any issuance must spend, single-threaded. A figure, not a
pass/fail test: client and database share this machine's cores.

Wall-clock rates move with whatever else the machine runs, so the CPU each voucher took
is printed too: this process with its signing workers, and the embedded database server
(all its processes; not measured for a server named by $POS_DATABASE_URL), next to the CPU
of one bare signature of the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import hashlib
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import tree_cpu_seconds  # noqa: E402
from pos.cli.voucher_commands import (  # noqa: E402
    command_services,
    issue_and_list,
    write_cards,
    write_vouchers_csv,
)
from pos.config import load_config  # noqa: E402
from pos.db.embedded import embedded_url, postmaster_pid  # noqa: E402
from pos.storage import setup as setup_store  # noqa: E402
from pos.storage.ledger import verify_ledger  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_signing_rate(count: int, kid: str, issuer: str,
                      audience: str) -> tuple[float, float]:
    """Reference: Ed25519 signatures per second on this machine, nothing else: the one
    `sign` call of cryptography over each token's JWT signing input (header and claims,
    encoded beforehand, a thousand at a time, outside the timing). The work no way of
    issuing can skip. Returns the rate and the CPU seconds of one signature."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    header = base64.urlsafe_b64encode(json.dumps(
        {"alg": "EdDSA", "kid": kid, "typ": "JWT"}, separators=(",", ":")).encode())
    program = str(uuid.uuid4())
    sign = Ed25519PrivateKey.generate().sign
    spent = cpu = 0.0
    for start in range(0, count, 1000):
        inputs = [header.rstrip(b"=") + b"." + base64.urlsafe_b64encode(json.dumps(
            {"iss": issuer, "aud": audience, "jti": str(uuid.uuid4()), "prg": program,
             "iat": 1_767_225_600, "nbf": 1_767_225_600, "exp": 1_782_864_000},
            separators=(",", ":")).encode()).rstrip(b"=")
            for _ in range(min(1000, count - start))]
        started, on_cpu = time.perf_counter(), time.thread_time()
        for signing_input in inputs:
            sign(signing_input)
        spent += time.perf_counter() - started
        cpu += time.thread_time() - on_cpu
    return count / spent, cpu / count


async def bare_copy_rate(conn: asyncpg.Connection, count: int) -> float:
    """Reference: COPY of voucher-, credit- and ledger-shaped rows into unindexed temporary
    tables: what the database alone takes to store a batch of this size."""
    await conn.execute(
        "CREATE TEMP TABLE ref_v (id uuid, ref text, code bytea, iat bigint);"
        "CREATE TEMP TABLE ref_c (voucher uuid, amount bigint);"
        "CREATE TEMP TABLE ref_l (txn uuid, account text, id uuid, amount bigint)")
    started = time.perf_counter()
    ids = [uuid.uuid4() for _ in range(count)]
    await conn.copy_records_to_table("ref_v", records=(
        (v, f"child-{i}", i.to_bytes(32, "big"), 1) for i, v in enumerate(ids)))
    await conn.copy_records_to_table("ref_c", records=((v, 30000) for v in ids))
    await conn.copy_records_to_table("ref_l", records=(
        row for v in ids for row in ((v, "voucher", v, 30000), (v, "funding", v, -30000))))
    return count / (time.perf_counter() - started)


def file_digest(path: Path) -> bytes:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()


def write_list(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ref", "holder_ref", "note"])
        for i in range(count):
            writer.writerow([f"county{i % 6}-child-{i:07d}", f"vol-{i % 997}", ""])


def server_cpu(data_dir: Path | None) -> float:
    """CPU seconds the embedded server has used (all its processes), NaN for another."""
    pid = None if data_dir is None else postmaster_pid(data_dir)
    return float("nan") if pid is None else tree_cpu_seconds(pid)


async def main(count: int, chunk: int, cards: int, workers: int | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="pos-bench-issue-"))
    server = os.environ.get("POS_DATABASE_URL", "")
    embedded = None if server else work / "server"
    if embedded is not None:
        server = await asyncio.to_thread(embedded_url, embedded)
    name = f"bench_issue_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(server)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    base, _, query = server.partition("?")  # the embedded server's socket is in the query
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    config = load_config(ROOT / "config.toml", env={
        "POS_DATABASE_URL": url, "POS_DATA_DIR": str(work / "data"),
        "POS_ADMIN_TOKEN": "adm_bench_" + uuid.uuid4().hex})
    listing = work / "beneficiaries.csv"
    await asyncio.to_thread(write_list, listing, count)
    print(f"list: {count} rows, {listing.stat().st_size / 1e6:.1f} MB; "
          f"peak memory before issuing {peak_mb():.0f} MB")

    async with command_services(config) as svc:
        now = datetime.now(UTC)
        program = await setup_store.create_program(svc.pool, {
            "name": "Bench wish voucher 心愿券", "currency": "CNY", "restrictions": ["any"],
            "rule_settings": {}, "face_value": 30000, "per_visit_cap": 10000, "uses": None,
            "unit_price": None, "valid_from": now - timedelta(days=1),
            "valid_until": now + timedelta(days=180), "allowance": None,
            "require_identity": False, "channels": ["cash"]})
        kid = await svc.signing_kid()  # the first key, made outside the timing
        # The signing reference is taken just before and just after the issuance and
        # averaged: other work on the machine comes and goes.
        tokens = config.tokens
        signing_before, sig_cpu_before = await asyncio.to_thread(
            bare_signing_rate, count, kid, tokens.issuer, tokens.audience)

        started = time.perf_counter()
        cpu_before = tree_cpu_seconds(os.getpid()), server_cpu(embedded)
        result, handed_out = await issue_and_list(
            svc, program, listing, "csv",
            lambda batch: work / "out" / "vouchers.csv", work, chunk_size=chunk,
            workers=workers)
        total_s = time.perf_counter() - started
        # The signing workers have ended, and been waited for: their CPU is in the tree's.
        client_cpu = tree_cpu_seconds(os.getpid()) - cpu_before[0]
        database_cpu = server_cpu(embedded) - cpu_before[1]
        assert result.created and result.count == count and handed_out is not None
        started = time.perf_counter()
        written = await write_vouchers_csv(svc, result.issuance_id, work / "again.csv")
        export_s = time.perf_counter() - started
        assert written == count
        same = file_digest(handed_out) == file_digest(work / "again.csv")

        print(f"issue + list (check, store, sign, write): {total_s:6.2f} s "
              f"{count / total_s:9.0f} vouchers/s")
        print("  the list written while issuing "
              + ("equals a re-export from the database" if same else "DIFFERS from a re-export"))
        print(f"re-export from the database (sign + write): {export_s:6.2f} s "
              f"{count / export_s:9.0f} vouchers/s")
        print(f"peak memory {peak_mb():.0f} MB (chunks of {chunk})")
        if cards:
            started = time.perf_counter()
            printed = await write_cards(svc, result.issuance_id, work / "cards.pdf",
                                        count=cards)
            took = time.perf_counter() - started
            print(f"cards  (A4 PDF sheets):  {took:7.2f} s  {printed / took:9.0f} cards/s "
                  f"({printed} cards)")
        async with svc.pool.acquire() as pooled:
            checks = await verify_ledger(pooled)
        print("ledger: " + ("balanced" if all(c.ok for c in checks) else "NOT BALANCED"))
        # References measured in this run, on this machine, for the same number of vouchers.
        signing_after, sig_cpu_after = await asyncio.to_thread(
            bare_signing_rate, count, kid, tokens.issuer, tokens.audience)
        signing = (signing_before + signing_after) / 2
        sig_cpu = (sig_cpu_before + sig_cpu_after) / 2
        copy_conn = await asyncpg.connect(url)
        try:
            copying = await bare_copy_rate(copy_conn, count)
        finally:
            await copy_conn.close()
        print(f"reference: bare Ed25519 signing   {signing:9.0f} tokens/s "
              f"(mean of {signing_before:.0f} before and {signing_after:.0f} after)")
        print(f"reference: bare COPY of the rows  {copying:9.0f} vouchers/s")
        print(f"CPU per voucher: {1e6 * client_cpu / count:.1f} us issuing (this process and "
              f"its workers) + {1e6 * database_cpu / count:.1f} us database; "
              f"{1e6 * sig_cpu:.1f} us per bare signature")
        print(f"ratio issued/s : min(references) = {count / total_s / min(signing, copying):.2f}"
              f"   (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vouchers", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--cards", type=int, default=0,
                        help="also time printing this many cards as PDF sheets")
    parser.add_argument("--workers", type=int, default=None,
                        help="signing processes (default: one per core beyond the first; "
                             "0 signs in the issuing process)")
    args = parser.parse_args()
    asyncio.run(main(args.vouchers, args.chunk, args.cards, args.workers))
