# ruff: noqa: RUF001
"""Refusals an officer, finance or a script gets are sentences in zh-CN and en too: a
program's set-up mistakes, things not found, checks of the service's own; none is an
English sentence behind a Chinese lead."""

from __future__ import annotations

import ast
import re
import uuid
from pathlib import Path

from pos.errors import CATALOGUE
from pos.problem_texts import PROBLEM_TEXTS, THINGS
from tests.conftest import ADMIN, World

ROOT = Path(__file__).resolve().parent.parent
RAISERS = {"validation_error", "VALIDATION_ERROR", "not_found", "NOT_FOUND"}


def _calls(name: str) -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted((ROOT / "pos").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == name):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return found


def test_no_refusal_of_these_kinds_is_a_bare_english_sentence() -> None:
    """`validation_error` and `not_found` are raised with words in both languages (a
    `Message`, a `Phrase`, or the name of a thing of `THINGS`), never a plain sentence."""
    bare = [where for name in RAISERS for where, call in _calls(name)
            if name not in ("not_found",) and call.args
            and isinstance(call.args[0], ast.Constant | ast.JoinedStr)]
    assert bare == []


def test_every_problem_code_has_its_sentence_in_chinese() -> None:
    """A problem raised with a plain sentence is said by its code's sentence in Chinese:
    every code of the catalogue has one, not only a till's."""
    assert sorted(code for code in CATALOGUE if code not in PROBLEM_TEXTS) == []


def test_every_thing_not_found_has_a_name_in_both_languages() -> None:
    named = [(where, call.args[0]) for where, call in _calls("not_found")]
    named += [(where, call.args[2]) for where, call in _calls("path_id") if len(call.args) > 2]
    unknown = [(where, arg.value) for where, arg in named
               if isinstance(arg, ast.Constant) and arg.value not in THINGS]
    assert unknown == []
    assert len(named) > 30


async def test_an_officers_set_up_mistake_is_said_in_chinese_and_english(
        world: World) -> None:
    base = {"name": "P", "restrictions": ["any"], "face_value": 20000,
            "valid_from": "2026-01-01", "valid_until": "2026-06-30", "per_visit_cap": 30000}
    said = {}
    for lang in ("zh-CN", "en"):
        refused = await world.post("/v1/programs", base, status=422,
                                   headers=ADMIN | {"Accept-Language": lang})
        assert (refused["code"], refused["field"]) == ("validation_error", "per_visit_cap")
        said[lang] = refused["detail"]
    assert said == {
        "zh-CN": "请求有误（每次消费上限 per_visit_cap）：300.00 超过了一张券的总额 200.00。",
        "en": "The request was not understood (per_visit_cap): 300.00 is more than a voucher "
              "holds (200.00)."}
    listed = await world.client.get("/v1/programs", headers=ADMIN)
    assert (await listed.json())["programs"] == []  # nothing was stored


async def test_what_is_not_found_is_named_in_the_readers_language(world: World) -> None:
    missing = uuid.uuid4()
    said = {}
    for lang in ("zh-CN", "en"):
        resp = await world.client.get(f"/v1/programs/{missing}/report",
                                      headers=ADMIN | {"Accept-Language": lang})
        problem = await resp.json()
        assert (resp.status, problem["code"]) == (404, "not_found")
        said[lang] = problem["detail"]
    assert said == {"zh-CN": "没有找到该项目。", "en": "No program was found."}
    resp = await world.client.get("/v1/vouchers/not-an-id", headers=ADMIN)
    assert (await resp.json())["detail"] == "没有找到该券。"


async def test_a_service_check_speaks_chinese_first(world: World) -> None:
    resp = await world.client.get("/v1/settlements?status=unknown", headers=ADMIN)
    problem = await resp.json()
    assert (resp.status, problem["code"]) == (422, "validation_error")
    assert re.fullmatch(r"status 须是以下之一：[a-z, ]+。", problem["detail"]), problem
