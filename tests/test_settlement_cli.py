"""`pos settle`: the same runs, steps and exports as the API, from the command line."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

from pos.config import Config
from tests.conftest import ADMIN, World
from tests.settlement_support import pos_command, redeem


async def test_settle_from_the_command_line(world: World, config: Config,
                                            tmp_path: Path) -> None:
    shop = await world.shop("阳光文具店")
    program = await world.program(partners=[shop])
    for voucher in await world.issue(program, 2):
        await redeem(world, shop, voucher, ("food", 1, 2500))

    done = await pos_command(config, "settle", "run", "--period-end", "2000-01-31",
                             "--by", "Officer Li")
    assert done.returncode == 0, done.stderr
    assert "0 batch(es)" in done.stdout, "nothing was redeemed by then"

    future = await pos_command(config, "settle", "run", "--period-end", "2999-01-01",
                               "--by", "Officer Li")
    assert future.returncode == 1 and "can only end in the past" in future.stderr
    bad = await pos_command(config, "settle", "run", "--period-end", "soon", "--by", "x")
    assert bad.returncode == 1 and "is not a date" in bad.stderr

    done = await pos_command(config, "settle", "run", "--period-end",
                             datetime.now(tz=UTC).isoformat(), "--by", "Officer Li")
    assert done.returncode == 0, done.stderr
    match = re.search(r"^([0-9a-f-]{36})\s+draft\s+CNY\s+50\.00\s+2 lines\s+阳光文具店$",
                      done.stdout, re.M)
    assert match, done.stdout
    batch_id = match.group(1)

    done = await pos_command(config, "settle", "approve", batch_id, "--by", "Director Wang")
    assert done.returncode == 0 and " approved " in done.stdout
    again = await pos_command(config, "settle", "approve", batch_id, "--by", "Director Wang")
    assert again.returncode == 1 and "cannot be marked approved" in again.stderr

    out = tmp_path / "batch.csv"
    done = await pos_command(config, "settle", "export", batch_id, "csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in done.stdout
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")

    done = await pos_command(config, "settle", "list", "--status", "approved")
    assert batch_id in done.stdout
    done = await pos_command(config, "settle", "paid", batch_id, "--by", "Cashier Zhao",
                             "--reference", "BANK-9")
    assert done.returncode == 0 and " paid " in done.stdout

    resp = await world.client.get(f"/v1/settlements/{batch_id}", headers=ADMIN)
    batch = await resp.json()
    assert [(h["status"], h["actor"]) for h in batch["history"]] == [
        ("draft", "Officer Li"), ("approved", "Director Wang"), ("paid", "Cashier Zhao")]
    assert batch["payout_reference"] == "BANK-9"
    assert batch["exports"][0]["sha256"] == digest
