# ruff: noqa: RUF001
"""Chinese first: every rule and every refusal a till can get has its sentence in zh-CN
(and en); token refusals never say 401; the never-list holds whatever the rules say."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from pos.config import Config, PluginsConfig
from pos.errors import CATALOGUE, IdempotencyProblem, TokenProblem, VoucherProblem
from pos.messages import LANGUAGES, PROBLEM_TEXTS, TILL_CODES, render
from pos.plugin.manager import build_plugins
from pos.plugin.types import ProgramView
from pos.taxonomy import CATEGORIES, ZH_LABELS
from tests.conftest import World, basket, make_config

ROOT = Path(__file__).resolve().parent.parent


def test_every_till_refusal_has_chinese_and_english() -> None:
    missing = [(code, lang) for code in sorted(TILL_CODES) for lang in LANGUAGES
               if not PROBLEM_TEXTS.get(code, {}).get(lang, "").strip()]
    assert missing == []
    for key, texts in PROBLEM_TEXTS.items():
        assert key.split(".")[0] in CATALOGUE, key
        assert all(texts.get(lang, "").strip() for lang in LANGUAGES), key


def test_every_voucher_token_and_repeat_problem_is_a_till_refusal() -> None:
    """A new code of these families reaches tills: it must come with its Chinese."""
    families = (TokenProblem, VoucherProblem, IdempotencyProblem)
    assert {c for c, e in CATALOGUE.items() if issubclass(e.family, families)} <= TILL_CODES


def test_every_message_raised_exists() -> None:
    """Every `msg("...")` in the code names a sentence of the catalogue."""
    used = set()
    for path in [*ROOT.glob("pos/**/*.py"), *ROOT.glob("plugins/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "msg" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                used.add(node.args[0].value)
    assert used and used <= set(PROBLEM_TEXTS)


def test_only_the_callers_own_credential_is_401() -> None:
    assert {c for c, e in CATALOGUE.items() if e.status == 401} == {
        "unauthorized", "webhook_signature_invalid", "sign_in_failed"}
    for code in ("invalid_token", "token_expired", "token_not_yet_valid"):
        assert CATALOGUE[code].status in (403, 422)


def test_every_category_has_a_chinese_label() -> None:
    assert set(ZH_LABELS) == set(CATEGORIES)


def test_every_built_in_rule_speaks_chinese_and_english() -> None:
    plugins = build_plugins(PluginsConfig())
    assert {"nutrition", "books", "baby", "study", "meals", "medicine", "approved_products",
            "any", "categories"} <= set(plugins.rules)
    params = {"description": "商品", "category": "milk", "gtin": "123", "version": 1,
              "cap_amount": 1000}
    for name, registered in plugins.rules.items():
        messages = registered.adapter.messages
        assert messages, name
        for code, texts in messages.items():
            zh, en = (render(texts[lang], params, lang) for lang in ("zh-CN", "en"))
            assert zh and en and zh != en, (name, code)
            assert "{" not in zh + en, (name, code, zh, en)
            assert "milk" not in zh, (name, code, zh)  # a label, never the raw code


def test_a_program_says_what_it_buys_in_plain_words() -> None:
    plugins = build_plugins(PluginsConfig())
    view = ProgramView("p", "营养券", "CNY", ("nutrition",),
                       {"nutrition": {"only": ["milk", "milk_powder", "alcohol"]}}, False)
    never = Config().redemption.never_pay
    assert plugins.what_it_buys(view, never) == [{"zh-CN": "牛奶、奶粉",
                                                  "en": "milk, milk powder"}]
    anything = ProgramView("p", "暖冬券", "CNY", ("any",), {}, False)
    assert plugins.what_it_buys(anything, never) == [{"zh-CN": "任何商品", "en": "any goods"}]


# ------------------------------------------------------------------------------------------
# through the API


async def test_a_refusal_comes_in_the_tills_language(world: World) -> None:
    shop = await world.shop()
    (voucher,) = await world.issue(await world.program(partners=[shop]))
    typo = ("1" if voucher["code"][0] != "1" else "2") + voucher["code"][1:]
    body = {"code": typo, "basket": basket(("food", 1, 100))}
    answers = {}
    for lang in (None, "zh-CN,zh;q=0.9", "en-US,en;q=0.8"):
        headers = shop.headers() | ({"Accept-Language": lang} if lang else {})
        resp = await world.client.post("/v1/quotes", json=body, headers=headers)
        problem = await resp.json()
        assert (resp.status, problem["code"]) == (422, "invalid_token")
        answers[lang] = (problem["detail"], resp.headers["Content-Language"])
    assert answers[None] == answers["zh-CN,zh;q=0.9"] == (
        "券码格式不对，请核对是否输入正确。", "zh-CN")
    assert answers["en-US,en;q=0.8"] == (
        "This code is not valid. Check it was typed correctly.", "en")


async def test_a_request_the_till_got_wrong_is_explained_in_chinese(world: World) -> None:
    shop = await world.shop()
    resp = await world.client.post("/v1/redemptions", json={"code": "X"},
                                   headers=shop.headers("k-1"))
    problem = await resp.json()
    assert (resp.status, problem["code"]) == (422, "validation_error")
    assert problem["detail"] == "请求有误（购物篮）：缺少此项。"
    resp = await world.client.post("/v1/redemptions", json={"code": "X"},
                                   headers=shop.headers())
    assert (await resp.json())["detail"] == "此请求需要 Idempotency-Key 请求头，以免重复扣款。"


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    # A deployment that also never pays for soft drinks, from config.toml's key.
    return make_config(database_url, tmp_path / "data",
                       POS_REDEMPTION_NEVER_PAY="alcohol, tobacco, soft_drinks")


async def test_the_never_list_is_configurable_and_says_so(world: World) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop], restrictions=["any"])
    (voucher,) = await world.issue(program)
    resp = await world.client.post("/v1/quotes", json={
        "token": voucher["token"], "basket": basket(
            {"sku": "c", "category": "soft_drinks", "description": "可乐", "quantity": 1,
             "unit_price": 300},
            ("household", 1, 500), ("lottery", 1, 200))}, headers=shop.headers())
    q: dict[str, Any] = await resp.json()
    assert resp.status == 200, q
    assert [(entry["eligible"], entry["rule"]) for entry in q["lines"]] == [
        (False, "never_list"), (True, "any"), (True, "any")]  # lottery: not on this list
    assert q["lines"][0]["reason"] == "可乐：任何券都不能用于饮料果汁。"
    assert q["covered"] == 700
