# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""The `pos` commands' sentences: every one in zh-CN and en, the terminal's locale choosing
(Chinese by default), and the start-up banner of `pos run` in both, its URLs, tokens and
secrets the same in each."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest

from pos.cli import serve, texts
from pos.messages import LANGUAGES
from tests.conftest import CHINESE, ENGLISH, make_config


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_sentence_exists_in_both_languages_with_the_same_blanks() -> None:
    for key, entry in texts.CLI_TEXTS.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(entry[lang].strip() for lang in LANGUAGES), key
        assert _fields(entry["zh-CN"]) == _fields(entry["en"]), key


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "zh-CN"), ({"LANG": "C.UTF-8"}, "zh-CN"), ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "en_GB.UTF-8", "LC_ALL": "zh_CN.UTF-8"}, "zh-CN"),
    ({"LANG": "zh_CN.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en")])
def test_the_locale_chooses_the_language(monkeypatch: pytest.MonkeyPatch,
                                         environ: dict[str, str], expected: str) -> None:
    for name in ("LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert texts.language() == expected


def test_categories_are_named_never_shown_as_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CHINESE.items():
        monkeypatch.setenv(name, value)
    assert [texts.category_name(c) for c in ("food", "stationery", "uncategorised")] == [
        "食品", "文具", "未分类"]
    for name, value in ENGLISH.items():
        monkeypatch.setenv(name, value)
    assert texts.category_name("school_bags") == "school bags"


def test_pad_counts_a_chinese_character_as_two_columns() -> None:
    assert texts.pad("文具", 6) == "文具  "
    assert texts.pad("books", 6) == "books "
    assert texts.pad("2 笔", 6, right=True) == "  2 笔"


def _demo() -> dict[str, object]:
    return {"merchants": {"阳光文具店": {"till_secret": "till_SECRET"}},
            "vouchers": {"wish": [{"code": "WISH-CODE", "token": "v1.TOKEN"}],
                         "nutrition": [{"code": "MILK-CODE", "token": "v1.MILK"}]},
            "accounts": {"demo.officer": {"role": "officer", "one_time_password": "OTP-1"}}}


@pytest.mark.parametrize(("environ", "expected"), [
    (CHINESE, ["券服务已启动：http://127.0.0.1:18080",
               "  收银台：    http://127.0.0.1:18080/till/",
               "  管理员令牌（自动生成，保存在数据文件夹中）：adm_GENERATED",
               "  阳光文具店 的收银台密钥：till_SECRET",
               "  演示券（wish，每店每天最多 100）：券码 WISH-CODE",
               "  演示券令牌：v1.TOKEN",
               "  持券人页面：http://127.0.0.1:18080/v/WISH-CODE",
               "  管理台登录（项目专员）：demo.officer / OTP-1（一次性密码，首次登录时须修改）",
               "  wish：券码 WISH-CODE；"]),
    (ENGLISH, ["Voucher service listening on http://127.0.0.1:18080",
               "  till:       http://127.0.0.1:18080/till/",
               "  admin token (generated, kept in the data folder): adm_GENERATED",
               "  till secret for 阳光文具店: till_SECRET",
               "  demo voucher (wish, 100 per shop and day): code WISH-CODE",
               "  demo voucher token: v1.TOKEN",
               "  its holder page: http://127.0.0.1:18080/v/WISH-CODE",
               "  console sign-in (officer): demo.officer / OTP-1  (one-time: change it at "
               "first sign-in)",
               "  wish: code WISH-CODE; basket: "]),
])
def test_the_banner_of_pos_run_in_each_language(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        environ: dict[str, str], expected: list[str]) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    config = make_config("postgresql://unused/db", tmp_path, POS_SERVER_PORT="18080",
                         POS_SERVER_HOST="127.0.0.1")
    serve._banner(config, "adm_GENERATED", _demo())
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    for line in expected:
        assert any(shown.startswith(line) for shown in lines), (line, printed)
    assert "http://127.0.0.1:18080/metrics" in printed


async def test_every_check_of_pos_verify_has_a_chinese_name(db: Any) -> None:
    from pos.storage.ledger import verify_ledger
    from pos.storage.offline_sales import verify_offline
    from pos.storage.reconciliation import verify_settlements

    names = [c.name for c in [*await verify_ledger(db), *await verify_settlements(db),
                              *await verify_offline(db)]]
    assert sorted(names) == sorted(texts.CHECK_NAMES)
