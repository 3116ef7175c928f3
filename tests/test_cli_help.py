# ruff: noqa: RUF001 - the Chinese lines use full-width punctuation
"""`pos --help`, every command's `--help` and argparse's refusals of bad arguments speak the
terminal's language, like every other line a command prints."""

from __future__ import annotations

import os
import subprocess
import sys

from pos.cli.help_texts import ARGPARSE_ZH, HELP_ZH, help_texts
from pos.cli.main import build_parser
from tests.conftest import CHINESE, ENGLISH


def _pos(*args: str, locale: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_")}
    env.update({"POS_CONFIG": "/nonexistent", **locale})
    return subprocess.run([sys.executable, "-m", "pos.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_every_help_text_has_its_chinese() -> None:
    missing = [text for _, text in help_texts(build_parser())
               if text not in HELP_ZH and text not in {*ARGPARSE_ZH, *ARGPARSE_ZH.values()}]
    assert missing == []


def test_help_in_chinese_and_in_english() -> None:
    zh = _pos("--help", locale=CHINESE)
    assert zh.returncode == 0
    assert zh.stdout.startswith("用法：pos ")
    assert "pos 命令：运行服务、迁移数据库结构、核对账目、管理密钥和插件。" in zh.stdout
    assert "按受助人名单（CSV 或 JSON）发券" in zh.stdout
    assert "显示此帮助并退出" in zh.stdout
    en = _pos("--help", locale=ENGLISH)
    assert en.stdout.startswith("usage: pos ")
    assert "issue vouchers to a beneficiary list (CSV or JSON)" in en.stdout
    run = _pos("run", "--help", locale=CHINESE)
    assert "服务该端口的进程数（默认：[server] workers；0 表示每个 CPU 核心一个）" in run.stdout
    assert "选项" in run.stdout and "options" not in run.stdout
    settle = _pos("settle", "approve", "--help", locale=CHINESE)
    assert "批准付款的财务或管理员账号" in settle.stdout


def test_bad_arguments_are_refused_in_the_terminals_language() -> None:
    zh = _pos("run", "--workers", "abc", locale=CHINESE)
    assert zh.returncode == 2
    assert "pos run：错误：参数 --workers：无效的 int 值：'abc'" in zh.stderr, zh.stderr
    zh = _pos("settle", "approve", "b1", locale=CHINESE)
    assert "错误：缺少以下参数：--as" in zh.stderr, zh.stderr
    zh = _pos("keys", "burn", locale=CHINESE)
    assert "无效的选项：'burn'" in zh.stderr, zh.stderr
    zh = _pos("run", "--workers", "-1", locale=CHINESE)
    assert zh.returncode == 2
    assert "pos run：错误：参数 --workers：须为 0 或更大的整数，现为 '-1'" in zh.stderr, zh.stderr
    en = _pos("run", "--workers", "-1", locale=ENGLISH)
    assert "pos run: error: argument --workers: must be 0 or more, not '-1'" in en.stderr
    en = _pos("run", "--workers", "abc", locale=ENGLISH)
    assert "pos run: error: argument --workers: invalid int value: 'abc'" in en.stderr
