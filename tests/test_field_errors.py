# ruff: noqa: RUF001
"""A request body that is wrong is explained in the reader's language: the field as a
person names it and what is wrong with it, never pydantic's English inside a Chinese
sentence, and nothing is written."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from pos.api import requests as models
from pos.api.problems import from_validation_error
from pos.api.state import SERVICES
from pos.messages import problem_text
from pos.service.services import Services
from tests.conftest import World, basket

LINE = {"sku": "RICE-5KG", "category": "food", "description": "Rice 5 kg", "quantity": 1,
        "unit_price": 100}
SALE = {"code": "X", "basket": {"currency": "CNY", "lines": [LINE]}}

# A valid body of each request a person's mistake can reach (the till's, the console's
# and the officer's scripts'); each is broken below in every way a field can be.
VALID: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (models.RedemptionIn, {**SALE, "amount": 50, "channel": "cash"}),
    (models.QuoteIn, {"vouchers": [{"code": "X"}], "basket": SALE["basket"],
                      "identity_confirmed": False}),
    (models.ProgramIn, {
        "name": "Wish", "currency": "CNY", "restrictions": ["any"], "face_value": 100,
        "per_visit_cap": 50, "valid_from": "2026-01-01", "valid_until": "2026-12-31",
        "allowance": {"amount": 100, "every": "month", "count": 12, "rollover": False},
        "channels": ["cash"], "time_zone": "Asia/Shanghai", "require_identity": False,
        "limits": [{"period": "day", "max_redemptions": 1, "max_amount": 100}]}),
    (models.TopUpIn, {"amount": 100, "valid_until": "2026-12-31T23:59:59+08:00",
                      "note": "winter"}),
    (models.IssueIn, {"beneficiaries": [{"ref": "child-1", "holder_ref": "vol-1",
                                         "grant": "winter"}]}),
    (models.SettlementIn, {"period_end": "2026-12-31T00:00:00+08:00", "by": "finance",
                           "merchant_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}),
    (models.PayeeIn, {"account_name": "Shop", "account_id": "6222020200112233445"}),
    (models.OfflineLimitsIn, {"enabled": True, "max_per_sale": 100, "max_till_total": 500,
                              "max_offline_seconds": 3600}),
]
# What may stay in Latin letters in a Chinese sentence: codes and values a person types.
LATIN_ALLOWED = {"ISO", "UUID", "BIC", "true", "false", "day", "week", "month", "CNY",
                 "Idempotency", "Key"}


def _said(model: type[BaseModel], body: Any, lang: str) -> str | None:
    try:
        model.model_validate_json(json.dumps(body))
    except ValidationError as exc:
        problem = from_validation_error(exc)
        assert problem.code == "validation_error"
        return problem_text(problem.code, problem.message, problem.detail, lang)
    return None


def _paths(body: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(body, dict):
        for key, value in body.items():
            yield (*path, key)
            yield from _paths(value, (*path, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield (*path, index)
            yield from _paths(value, (*path, index))


def _broken(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The body with one field missing, of another type, out of any range, or with a field
    too many beside it."""
    for path in _paths(body):
        values: tuple[Any, ...] = (None, "字", "", -1, 0, 1.5, 10**20, [], {}, "x" * 70_000,
                                   [1] * 300)
        for value in values:
            changed = copy.deepcopy(body)
            *parents, last = path
            holder = changed
            for part in parents:
                holder = holder[part]
            if value is None:
                if isinstance(holder, dict):
                    del holder[last]
            else:
                holder[last] = value
            yield changed
            if isinstance(holder, dict):
                extra = copy.deepcopy(body)
                target = extra
                for part in parents:
                    target = target[part]
                target["多余"] = 1
                yield extra


@pytest.mark.parametrize("model,valid", VALID, ids=[m.__name__ for m, _ in VALID])
def test_no_english_in_a_chinese_refusal_of_any_broken_body(
        model: type[BaseModel], valid: dict[str, Any]) -> None:
    assert _said(model, valid, "zh-CN") is None  # the valid body is valid
    refused = 0
    for body in _broken(valid):
        zh = _said(model, body, "zh-CN")
        if zh is None:
            continue
        refused += 1
        assert zh.startswith("请求有误"), zh
        english = set(re.findall(r"[A-Za-z]{2,}", zh)) - LATIN_ALLOWED
        assert not english, (zh, body)
        en = _said(model, body, "en")
        assert en is not None and en.startswith("The request was not understood"), en
        assert not re.search(r"[\u4e00-\u9fff]", en.replace("多余", "")), en
    assert refused > 20


@pytest.mark.parametrize("change,zh,en", [
    ({"basket": {"currency": "CNY", "lines": [LINE, {**LINE, "quantity": 0}]}},
     "请求有误（购物篮第 2 行的数量）：须大于 0。",
     "The request was not understood (basket line 2: quantity): must be greater than 0."),
    ({"basket": {"currency": "CNY", "lines": [{**LINE, "unit_price": 12.5}]}},
     "请求有误（购物篮第 1 行的单价）：须是以分计的整数（如 12.50 元写作 1250）。",
     "The request was not understood (basket line 1: unit price): must be a whole number "
     "of minor units (12.50 is 1250)."),
    ({"basket": {"currency": "CNY", "lines": []}},
     "请求有误（购物篮的商品行）：不能为空。",
     "The request was not understood (basket: lines): must not be empty."),
    ({"token": "eyJ"},
     "请求有误：请只提供券二维码内容或券码中的一个。",
     "The request was not understood: send either the voucher's token or its manual code, "
     "not both."),
    ({"basket": None},
     "请求有误（购物篮）：缺少此项。",
     "The request was not understood (basket): is missing."),
])
def test_each_mistake_is_named_in_both_languages(change: dict[str, Any], zh: str,
                                                 en: str) -> None:
    body = {**SALE, **change}
    body = {k: v for k, v in body.items() if v is not None}
    assert (_said(models.RedemptionIn, body, "zh-CN"), _said(models.RedemptionIn, body, "en")
            ) == (zh, en)


async def test_the_till_reads_its_mistake_and_nothing_is_written(world: World) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    sold = basket(("food", 1, 100))
    sold["lines"][0]["quantity"] = 0
    body = {"code": voucher["code"], "basket": sold}
    said = {}
    for lang in ("zh-CN", "en"):
        resp = await world.client.post("/v1/redemptions", json=body,
                                       headers=shop.headers(f"k-{lang}")
                                       | {"Accept-Language": lang})
        problem = await resp.json()
        assert (resp.status, problem["code"]) == (422, "validation_error")
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        # For programs: every error, with its field's path.
        assert problem["errors"][0]["field"] == "basket.lines.0.quantity"
        said[lang] = problem["detail"]
    assert said == {
        "zh-CN": "请求有误（购物篮第 1 行的数量）：须大于 0。",
        "en": "The request was not understood (basket line 1: quantity): must be greater "
              "than 0."}
    services: Services = world.client.app[SERVICES]
    assert await services.pool.fetchval("SELECT count(*) FROM redemptions") == 0
    assert await services.pool.fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE till_id = $1", shop.till_id) == 0
