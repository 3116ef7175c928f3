"""Offline risk, measured: one voucher spent to zero online, then sold offline at every till.

    .venv/bin/python bench/offline_shortfall.py [--tills 5] [--per-sale 5000] [--till-total 20000]

Starts an embedded PostgreSQL in a temporary folder and the service (`pos run`) as its own
process; publishes the program's offline limits; pairs each simulated till's device key and
fetches its signed kit while the voucher still holds its whole value. Then the voucher is
spent to zero online, and every till forwards an offline sale of the most one sale may take
(each twice: the second must be answered from the first). Prints the shortfall booked to
the program's offline-risk account next to the documented worst case for these limits
(docs/offline.md), the time to forward, and `pos verify`. A figure, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.redeem import create_database, post  # noqa: E402
from bench.service import free_port, wait_healthy, with_database  # noqa: E402
from pos.db.embedded import embedded_url  # noqa: E402

ADMIN = "adm_bench_" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def run(session: aiohttp.ClientSession, url: str, args: argparse.Namespace
              ) -> dict[str, Any]:
    today = date.today()
    merchants = [await post(session, f"{url}/v1/merchants", {"name": f"Shop {i}"}, AUTH)
                 for i in range(args.tills)]
    program = await post(session, f"{url}/v1/programs", {
        "name": "Offline bench", "restrictions": ["any"], "face_value": 30000,
        "valid_from": str(today - timedelta(days=1)),
        "valid_until": str(today + timedelta(days=30))}, AUTH)
    tills = []
    for m in merchants:
        await post(session, f"{url}/v1/programs/{program['id']}/merchants",
                   {"merchant_id": m["id"]}, AUTH)
        till = await post(session, f"{url}/v1/merchants/{m['id']}/tills", {"name": "T"}, AUTH)
        tills.append(till)
    limits = {"max_per_sale": args.per_sale, "max_till_total": args.till_total,
              "max_offline_seconds": args.offline_seconds}
    async with session.put(f"{url}/v1/programs/{program['id']}/offline-limits", json=limits,
                           headers=AUTH) as resp:
        published = await resp.json()
    issued = await post(session, f"{url}/v1/programs/{program['id']}/vouchers",
                        {"beneficiaries": [{"ref": "bench-1"}]}, AUTH)
    voucher = issued["vouchers"][0]
    kits = []
    for till in tills:
        key = Ed25519PrivateKey.generate()
        public = b64url(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw))
        headers = {"Authorization": f"Bearer {till['secret']}"}
        await post(session, f"{url}/v1/till/device-key", {"public_key": public}, headers)
        async with session.get(f"{url}/v1/till/offline-kit", headers=headers) as resp:
            kit = await resp.json()
        payload = json.loads(base64.urlsafe_b64decode(kit["kit"].split(".")[1] + "=="))
        kits.append((till, key, headers, payload["version"]))
    # Spent to zero online after every till fetched its kit: the worst moment.
    first = kits[0][2] | {"Idempotency-Key": uuid.uuid4().hex}
    await post(session, f"{url}/v1/redemptions", {"token": voucher["token"], "basket": {
        "currency": "CNY", "lines": [{"sku": "x", "category": "household",
                                      "description": "x", "quantity": 1,
                                      "unit_price": 30000}]}}, first)
    started = time.perf_counter()
    answers = []
    for till, key, headers, version in kits:
        record = {
            "key": f"offline-{uuid.uuid4().hex}", "till_id": till["id"], "kit_version": version,
            "token": voucher["token"], "program_id": program["id"], "voucher_id": voucher["id"],
            "occurred_at_ms": int(time.time() * 1000), "covered": args.per_sale,
            "basket": {"currency": "CNY", "lines": [{
                "sku": "y", "category": "household", "description": "y", "quantity": 1,
                "unit_price": args.per_sale}]},
        }
        text = json.dumps(record)
        body = {"sale": text, "signature": b64url(key.sign(text.encode()))}
        for _ in range(2):
            async with session.post(f"{url}/v1/offline-sales", json=body,
                                    headers=headers | {"Idempotency-Key": record["key"]}) as r:
                answers.append((r.status, await r.json()))
    elapsed = time.perf_counter() - started
    async with session.get(f"{url}/v1/reports/offline", headers=AUTH) as resp:
        report = await resp.json()
    return {"published": published, "answers": answers, "elapsed": elapsed, "report": report}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tills", type=int, default=5)
    parser.add_argument("--per-sale", type=int, default=5000)
    parser.add_argument("--till-total", type=int, default=20000)
    parser.add_argument("--offline-seconds", type=int, default=86400)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pos-bench-"))
    server = await asyncio.to_thread(embedded_url, workdir / "data")
    await create_database(server, "bench")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "POS_DATABASE_URL": with_database(server, "bench"),
           "POS_DATA_DIR": str(workdir / "data"), "POS_ADMIN_TOKEN": ADMIN,
           "POS_SERVER_PORT": str(port)}
    service = subprocess.Popen([sys.executable, "-m", "pos.cli.main", "run"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
            result = await run(session, url, args)
    finally:
        service.terminate()
        service.wait(timeout=30)
    verify = subprocess.run([sys.executable, "-m", "pos.cli.main", "verify"], env=env,
                            capture_output=True, text=True)
    rows = result["report"]["rows"]
    booked = sum(r["shortfall"] for r in rows)
    first_answers = result["answers"][0::2]
    replayed = all(a == b for a, b in zip(result["answers"][0::2], result["answers"][1::2],
                                          strict=True))
    print(f"offline risk: {args.tills} tills, limits per sale {args.per_sale}, till total "
          f"{args.till_total}, offline {args.offline_seconds} s; voucher spent to zero online")
    print(f"  offline sales honoured      {sum(1 for s, _ in first_answers if s == 201):6d}"
          f" of {args.tills} (each sent twice, replayed alike: {replayed})")
    print(f"  offline sales booked         {sum(r['sales'] for r in rows):6d}")
    print(f"  shortfall booked (fen)       {booked:6d}  (one day, one sale per till)")
    print(f"  documented worst case (fen)  "
          f"{result['published']['worst_case_shortfall_per_voucher']:6d}  "
          "(sales on every local day an offline stretch touches)")
    print(f"  forwarding                   {result['elapsed'] * 1000 / len(result['answers']):6.1f}"
          " ms per request")
    print(f"  pos verify                   {'ok' if verify.returncode == 0 else 'FAILED'}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
