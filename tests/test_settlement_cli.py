"""`pos settle`: the same runs, steps and exports as the API, from the command line, held
to the same four eyes: the account that cut a run never approves its batches."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from pos.config import Config
from tests.accounts_support import person
from tests.conftest import ADMIN, CHINESE, ENGLISH, World
from tests.settlement_support import CSV_COLUMNS, csv_rows, now, pos_command, redeem

BATCH_LINE = r"^([0-9a-f-]{36})\s+草稿\s+"


async def test_settle_from_the_command_line(world: World, config: Config,
                                            tmp_path: Path) -> None:
    shop = await world.shop("阳光文具店")
    program = await world.program(partners=[shop])
    for voucher in await world.issue(program, 2):
        await redeem(world, shop, voucher, ("food", 1, 2500))

    done = await pos_command(config, "settle", "run", "--period-end", "2000-01-31",
                             "--by", "Officer Li", env=ENGLISH)
    assert done.returncode == 0, done.stderr
    assert "0 batch(es)" in done.stdout, "nothing was redeemed by then"
    done = await pos_command(config, "settle", "run", "--period-end", "2000-01-31",
                             "--by", "Officer Li")
    assert done.returncode == 0 and "截至 2000-02-01T00:00:00+08:00" in done.stdout
    assert "：0 个批次" in done.stdout  # noqa: RUF001

    future = await pos_command(config, "settle", "run", "--period-end", "2999-01-01",
                               "--by", "Officer Li", env=ENGLISH)
    assert future.returncode == 1 and "can only end in the past" in future.stderr
    bad = await pos_command(config, "settle", "run", "--period-end", "soon", "--by", "x",
                            env=ENGLISH)
    assert bad.returncode == 1 and "error: 'soon' is not a date" in bad.stderr
    bad = await pos_command(config, "settle", "run", "--period-end", "soon", "--by", "x")
    assert bad.returncode == 1 and "错误：'soon' 不是日期" in bad.stderr  # noqa: RUF001

    # In Chinese by default: the status and the count of lines in words, the ids as they are.
    done = await pos_command(config, "settle", "run", "--period-end",
                             datetime.now(tz=UTC).isoformat(), "--by", "Officer Li")
    assert done.returncode == 0, done.stderr
    match = re.search(r"^([0-9a-f-]{36})\s+草稿\s+CNY\s+50\.00\s+2 笔\s+阳光文具店$",
                      done.stdout, re.M)
    assert match, done.stdout
    batch_id = match.group(1)

    await person(world, "wang.finance", "finance")
    done = await pos_command(config, "settle", "approve", batch_id, "--as", "wang.finance",
                             env=ENGLISH)
    assert done.returncode == 0, done.stderr
    assert re.search(rf"^{batch_id}\s+approved\s+CNY\s+50\.00\s+2 lines\s+阳光文具店$",
                     done.stdout, re.M), done.stdout
    again = await pos_command(config, "settle", "approve", batch_id, "--as", "wang.finance",
                              env=ENGLISH)
    assert again.returncode == 1 and "cannot be marked approved" in again.stderr

    out = tmp_path / "batch.csv"
    done = await pos_command(config, "settle", "export", batch_id, "csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"{out}  {out.stat().st_size} 字节  sha256 {digest}" in done.stdout
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    # The header row (and each line's kind) in the language asked for, as ?lang= does.
    english = tmp_path / "batch-en.csv"
    done = await pos_command(config, "settle", "export", batch_id, "csv", "--lang", "en",
                             "--out", str(english))
    assert done.returncode == 0, done.stderr
    english_digest = hashlib.sha256(english.read_bytes()).hexdigest()
    assert f"sha256 {english_digest}" in done.stdout
    chinese_rows = csv_rows(out.read_bytes())
    assert csv_rows(english.read_bytes(), CSV_COLUMNS) == [
        {**row, "kind": "Redemption"} for row in chinese_rows]
    assert {row["kind"] for row in chinese_rows} == {"消费"}
    resp = await world.client.get(f"/v1/settlements/{batch_id}/export/csv?lang=en",
                                  headers=ADMIN)
    assert await resp.read() == english.read_bytes(), "the command writes what HTTP sends"
    wrong = await pos_command(config, "settle", "export", batch_id, "csv", "--lang", "fr")
    assert wrong.returncode == 2 and "--lang" in wrong.stderr

    done = await pos_command(config, "settle", "list", "--status", "approved")
    assert re.search(rf"^{batch_id}\s+已批准\s+", done.stdout, re.M), done.stdout
    done = await pos_command(config, "settle", "paid", batch_id, "--by", "Cashier Zhao",
                             "--reference", "BANK-9")
    assert done.returncode == 0 and " 已付款 " in done.stdout

    resp = await world.client.get(f"/v1/settlements/{batch_id}", headers=ADMIN)
    batch = await resp.json()
    assert [(h["status"], h["actor"]) for h in batch["history"]] == [
        ("draft", "Officer Li"), ("approved", "wang.finance"), ("paid", "Cashier Zhao")]
    assert batch["payout_reference"] == "BANK-9"
    exports = {e["format"]: e for e in batch["exports"]}
    assert (exports["csv"]["sha256"], exports["csv"]["times"]) == (digest, 1)
    assert (exports["csv:en"]["sha256"], exports["csv:en"]["times"]) == (english_digest, 2)


async def test_approving_at_the_command_line_is_four_eyes_too(
    world: World, config: Config, db: asyncpg.Connection[Any]
) -> None:
    shop = await world.shop("阳光文具店")
    program = await world.program(partners=[shop])
    first, second = await world.issue(program, 2)
    wang = await person(world, "wang.finance", "finance")
    liu = await person(world, "liu.finance", "finance")
    await person(world, "zhao.audit", "auditor")
    gone = await person(world, "qian.finance", "finance")
    await world.post(f"/v1/accounts/{gone.account_id}/disable", {}, status=200)

    # One run cut in the console by wang, one at the command line as liu.
    await redeem(world, shop, first, ("food", 1, 2500))
    run = await world.post("/v1/settlements", {"period_end": now(), "by": "ignored"},
                           headers=wang.token_headers)
    (by_wang,) = run["batches"]
    await redeem(world, shop, second, ("food", 1, 1500))
    done = await pos_command(config, "settle", "run", "--period-end", now(),
                             "--as", "liu.finance")
    assert done.returncode == 0, done.stderr
    match = re.search(BATCH_LINE, done.stdout, re.M)
    assert match, done.stdout
    by_liu = match.group(1)
    resp = await world.client.get(f"/v1/settlements/{by_liu}", headers=ADMIN)
    assert (await resp.json())["created_by"] == "liu.finance"

    # Each author is refused, in the terminal's language, and nothing changes.
    refused = await pos_command(config, "settle", "approve", by_wang["id"],
                                "--as", "Wang.Finance", env=CHINESE)
    assert refused.returncode == 1
    assert "wang.finance 生成了这次结算，其批次须由另一个账号批准。" in refused.stderr  # noqa: RUF001
    refused = await pos_command(config, "settle", "approve", by_liu, "--as", "liu.finance",
                                env=ENGLISH)
    assert refused.returncode == 1
    assert ("liu.finance cut this settlement run, so another account must approve its "
            "batches.") in refused.stderr
    for login, sentence in (("nobody", "No account has the login nobody."),
                            ("zhao.audit", "The account zhao.audit cannot settle"),
                            ("qian.finance", "The account qian.finance is disabled.")):
        refused = await pos_command(config, "settle", "approve", by_liu, "--as", login,
                                    env=ENGLISH)
        assert refused.returncode == 1 and sentence in refused.stderr, refused.stderr
    refused = await pos_command(config, "settle", "approve", "not-a-batch", "--as",
                                "wang.finance", env=ENGLISH)
    assert refused.returncode == 1 and "No settlement batch was found." in refused.stderr
    missing = await pos_command(config, "settle", "approve", by_liu, env=ENGLISH)
    assert missing.returncode == 2 and "--as" in missing.stderr, "no approval without a name"
    statuses = await db.fetch("SELECT status FROM settlement_batches WHERE id = ANY($1)",
                              [by_wang["id"], by_liu])
    assert {r["status"] for r in statuses} == {"draft"}

    # The other one approves each, and the audit log names them as the console would.
    for batch_id, approver in ((by_wang["id"], liu), (by_liu, wang)):
        done = await pos_command(config, "settle", "approve", batch_id,
                                 "--as", approver.login)
        assert done.returncode == 0 and " 已批准 " in done.stdout, done.stderr
        resp = await world.client.get(f"/v1/settlements/{batch_id}", headers=ADMIN)
        history = (await resp.json())["history"]
        assert (history[-1]["status"], history[-1]["actor"]) == ("approved", approver.login)
        logged = await db.fetchrow(
            "SELECT actor_login, actor_id::text, actor_role, address, action FROM audit_log "
            "WHERE object_table = 'settlement_batches' AND object_id = $1 "
            "AND operation = 'update' ORDER BY seq DESC LIMIT 1", batch_id)
        assert logged is not None
        assert (logged["actor_login"], logged["actor_id"], logged["actor_role"],
                logged["address"]) == (approver.login, approver.account_id, "finance",
                                       "local")
        # The command, then who typed it; a Chinese audit page shows the command alone.
        command, _, typed_by = logged["action"].partition(": ")
        assert command == "pos settle approve" and typed_by.startswith("command line, system "
                                                                        "user ")
