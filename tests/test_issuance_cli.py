# ruff: noqa: RUF001
"""`pos issue` as a program officer runs it: a CSV in, a progress bar, the outputs named."""

from __future__ import annotations

import csv
import json
import re
import stat
from pathlib import Path

from pos.config import Config
from tests.conftest import ENGLISH, World
from tests.issuance_support import connect, csv_bytes, ledger_ok, quote, run_pos


async def test_pos_issue_issues_once_and_says_where_it_wrote(
        world: World, config: Config, tmp_path: Path) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    listing = tmp_path / "beneficiaries.csv"
    listing.write_bytes(b"\xef\xbb\xbf" + csv_bytes(
        [{"ref": f"county3-{i:04d}", "holder_ref": "caring-mum-7" if i % 2 else ""}
         for i in range(1500)]).replace(b"\n", b"\r\n"))

    # In Chinese by default, in English under an English locale.
    checked = await run_pos(config, "issue", "--program", program, "--check", str(listing),
                            cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "全部 1500 行都可以发放" in checked.stdout and "本次未发放" in checked.stdout
    checked = await run_pos(config, "issue", "--program", program, "--check", str(listing),
                            cwd=tmp_path, env=ENGLISH)
    assert "all 1500 rows can be issued" in checked.stdout
    async with connect(config) as conn:
        assert await conn.fetchval("SELECT count(*) FROM vouchers") == 0

    done = await run_pos(config, "issue", "--program", program, str(listing), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    match = re.search(r"^已发放 1500 张券，批次 ([0-9a-f-]{36})$", done.stdout, re.M)
    assert match, done.stdout
    assert "发放中" in done.stderr and "1500/1500" in done.stderr  # the progress bar
    batch_id = match.group(1)
    out = tmp_path / f"issuance-{batch_id}"
    assert f"已写入 issuance-{batch_id}/vouchers.csv（券码、令牌和持券人链接" in done.stdout
    written = out / "vouchers.csv"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600  # bearer credentials inside
    with written.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1500 and rows[1]["holder_ref"] == "caring-mum-7"
    status, quoted = await quote(world, shop, token=rows[777]["token"])
    assert status == 200, quoted

    again = await run_pos(config, "issue", "--program", program, str(listing), cwd=tmp_path,
                          env=ENGLISH)
    assert again.returncode == 0, again.stderr
    assert f"batch {batch_id} was issued before (1500 vouchers); nothing was issued now" \
        in again.stdout
    assert f"wrote issuance-{batch_id}/vouchers.csv (codes, tokens" in again.stdout
    again = await run_pos(config, "issue", "--program", program, str(listing), cwd=tmp_path)
    assert f"批次 {batch_id} 之前已发放（1500 张券），本次未发放。" in again.stdout
    async with connect(config) as conn:
        assert await conn.fetchval("SELECT count(*) FROM vouchers") == 1500
    await ledger_ok(config)


async def test_pos_issue_reports_every_bad_row_and_issues_nothing(
        world: World, config: Config, tmp_path: Path) -> None:
    program = await world.program()
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([{"ref": "a-1"}, {"ref": "a 2"}, {"ref": "a-1"},
                                   {"holder_ref": "v"}, {"ref": "ok", "phone": "139"}]))
    # In the terminal's language: Chinese by default.
    done = await run_pos(config, "issue", "--program", program, str(listing), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("错误：")
    assert "这份名单有 4 行不能发券，因此一张券也没有发" in done.stderr
    for line in ("  第 2 行（编号 a 2）：", "  第 3 行（编号 a-1）：ref a-1 在第 1 行也出现过",
                 "  第 4 行：缺少 ref", "  第 5 行（编号 ok）：未知字段 'phone'"):
        assert line in done.stderr, done.stderr
    async with connect(config) as conn:
        assert await conn.fetchval("SELECT count(*) FROM vouchers") == 0
    english = await run_pos(config, "issue", "--program", program, str(listing), cwd=tmp_path,
                            env=ENGLISH)
    assert english.returncode == 1
    assert english.stderr.startswith("error: 4 row(s) of this list cannot be issued")
    for line in ("  line 2 (ref a 2): ", "  line 3 (ref a-1): ref a-1 is also on line 1",
                 "  line 4: ref is missing", "  line 5 (ref ok): unknown field 'phone'"):
        assert line in english.stderr, english.stderr
    missing = await run_pos(config, "issue", "--program", program, str(tmp_path / "no.csv"),
                            env=ENGLISH)
    assert missing.returncode == 2 and "is not a file" in missing.stderr
    missing = await run_pos(config, "issue", "--program", program, str(tmp_path / "no.csv"))
    assert missing.returncode == 2 and "no.csv 不是文件" in missing.stderr


async def test_pos_issue_can_write_the_cards_too(world: World, config: Config,
                                                 tmp_path: Path) -> None:
    program = await world.program()
    listing = tmp_path / "few.csv"
    listing.write_bytes(csv_bytes([{"ref": f"b-{i}"} for i in range(4)]))
    out = tmp_path / "printing"
    done = await run_pos(config, "issue", "--program", program, "--cards", "--out", str(out),
                         str(listing))
    assert done.returncode == 0, done.stderr
    assert f"已写入 {out}/cards.pdf（4 张券卡）" in done.stdout
    assert (out / "cards.pdf").read_bytes().startswith(b"%PDF")
    for private in (out, out / "cards.pdf", out / "vouchers.csv"):
        assert private.stat().st_mode & 0o077 == 0, private
