# ruff: noqa: RUF001
"""What is wrong with a request's body, in the reader's language.

pydantic says what failed in English (`Input should be greater than 0`) at a path of field
names (`basket.lines.0.quantity`). A cashier reading Chinese gets neither: here each error
becomes two `Phrase`s, the field as a person names it (购物篮第 1 行的数量 / basket line
1: quantity) and what is wrong with it (须大于 0 / must be greater than 0), from pydantic's
stable error `type` and its context (the bound, the length). The request models' own
checks raise `refusal(key)`, whose sentences are in `REFUSALS`. A type with no sentence
here keeps pydantic's English, behind a Chinese lead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import PydanticCustomError

from pos.messages import Phrase
from pos.problem_texts import Texts
from pos.problem_texts import texts as _t

# Field names of the request models, as a person says them.
FIELD_NAMES: dict[str, Texts] = {
    # the till's sale
    "basket": _t("购物篮", "basket"),
    "lines": _t("商品行", "lines"),
    "sku": _t("商品编码", "item code (sku)"),
    "gtin": _t("条形码", "barcode (gtin)"),
    "category": _t("商品类别", "category"),
    "description": _t("商品名称", "description"),
    "quantity": _t("数量", "quantity"),
    "unit_price": _t("单价", "unit price"),
    "token": _t("券二维码内容", "voucher token"),
    "code": _t("券码", "code"),
    "vouchers": _t("券列表", "vouchers"),
    "amount": _t("金额", "amount"),
    "channel": _t("支付方式", "payment channel"),
    "identity_confirmed": _t("身份核验", "identity check"),
    "currency": _t("币种", "currency"),
    # programs and vouchers
    "name": _t("名称", "name"),
    "restrictions": _t("用途规则", "restrictions"),
    "rule_settings": _t("规则设置", "rule settings"),
    "face_value": _t("面值", "face value"),
    "per_visit_cap": _t("每次消费上限", "per-visit cap"),
    "uses": _t("次数", "uses"),
    "valid_from": _t("生效时间", "valid from"),
    "valid_until": _t("截止时间", "valid until"),
    "allowance": _t("按月额度", "monthly allowance"),
    "every": _t("发放周期", "every"),
    "count": _t("发放次数", "count"),
    "rollover": _t("余额结转", "rollover"),
    "require_identity": _t("需要身份核验", "identity check required"),
    "channels": _t("可用支付方式", "payment channels"),
    "time_zone": _t("时区", "time zone"),
    "limits": _t("限额", "limits"),
    "period": _t("限额周期", "period"),
    "max_redemptions": _t("次数上限", "most redemptions"),
    "max_amount": _t("金额上限", "most money"),
    "merchant_ids": _t("合作商户", "partner merchants"),
    "merchant_id": _t("商户编号", "merchant id"),
    "program_id": _t("项目编号", "program id"),
    "voucher_id": _t("券编号", "voucher id"),
    "till_id": _t("收银台编号", "till id"),
    "beneficiaries": _t("受助人名单", "beneficiaries"),
    "ref": _t("受助人编号", "beneficiary reference"),
    "holder_ref": _t("持券人编号", "holder reference"),
    "grant": _t("发放批次标签", "grant"),
    "note": _t("备注", "note"),
    # settlement and payouts
    "by": _t("操作人", "by"),
    "period_end": _t("结算截止时间", "period end"),
    "reference": _t("付款流水号", "payment reference"),
    "reason": _t("原因", "reason"),
    "account_name": _t("收款户名", "account name"),
    "account_id": _t("收款账号", "account number"),
    "agent_bic": _t("收款行 BIC", "bank BIC"),
    "agent_id": _t("收款行行号", "bank id"),
    # accounts, tills and offline sales
    "login": _t("登录名", "login"),
    "role": _t("角色", "role"),
    "current": _t("当前密码", "current password"),
    "new": _t("新密码", "new password"),
    "device_key": _t("设备密钥", "device key"),
    "public_key": _t("设备公钥", "public key"),
    "enabled": _t("是否启用", "enabled"),
    "max_per_sale": _t("每笔上限", "most per sale"),
    "max_till_total": _t("每台收银台合计上限", "most per till"),
    "max_offline_seconds": _t("最长离线时间（秒）", "longest time offline (seconds)"),
    "sale": _t("离线交易", "offline sale"),
    "signature": _t("签名", "signature"),
    "key": _t("幂等键", "idempotency key"),
    "kit_version": _t("离线包版本", "offline kit version"),
    "code_hash": _t("券码摘要", "code digest"),
    "occurred_at_ms": _t("交易时间", "time of sale"),
    "covered": _t("券支付金额", "amount covered"),
}
# What one item of a list is called, by the list's field name.
_ITEMS: dict[str, Texts] = {
    "lines": _t("第 {n} 行", "line {n}"),
    "vouchers": _t("第 {n} 张券", "voucher {n}"),
    "beneficiaries": _t("第 {n} 位受助人", "beneficiary {n}"),
    "limits": _t("第 {n} 条限额", "limit {n}"),
    "merchant_ids": _t("第 {n} 个商户", "merchant {n}"),
}
_ITEM = _t("第 {n} 项", "item {n}")
_OF = _t("{whole}的{part}", "{whole}: {part}")  # a field within an item or object

# pydantic's error types (pydantic_core's ErrorType), with its context's names.
ERRORS: dict[str, Texts] = {
    "missing": _t("缺少此项", "is missing"),
    "extra_forbidden": _t("不是此请求可接受的字段", "is not a field this request takes"),
    "greater_than": _t("须大于 {gt}", "must be greater than {gt}"),
    "greater_than_equal": _t("须不小于 {ge}", "must be at least {ge}"),
    "less_than": _t("须小于 {lt}", "must be less than {lt}"),
    "less_than_equal": _t("须不大于 {le}", "must be at most {le}"),
    "int_type": _t("须是整数", "must be a whole number"),
    "int_parsing": _t("须是整数", "must be a whole number"),
    "int_from_float": _t("须是整数", "must be a whole number"),
    "string_type": _t("须是文字", "must be text"),
    "string_too_short": _t("至少需要 {min_length} 个字符", "needs at least {min_length} "
                           "characters"),
    "string_too_long": _t("最多 {max_length} 个字符", "takes at most {max_length} characters"),
    "string_pattern_mismatch": _t("格式不对", "is not in the expected form"),
    "too_short": _t("至少需要 {min_length} 项", "needs at least {min_length} items"),
    "too_long": _t("最多 {max_length} 项", "takes at most {max_length} items"),
    "list_type": _t("须是列表", "must be a list"),
    "dict_type": _t("须是对象", "must be an object"),
    "model_type": _t("须是对象", "must be an object"),
    "model_attributes_type": _t("须是对象", "must be an object"),
    "bool_type": _t("须是 true 或 false", "must be true or false"),
    "bool_parsing": _t("须是 true 或 false", "must be true or false"),
    "literal_error": _t("须是以下之一：{expected}", "must be one of {expected}"),
    "date_type": _t("须是日期（如 2026-12-31）", "must be a date (like 2026-12-31)"),
    "date_parsing": _t("须是日期（如 2026-12-31）", "must be a date (like 2026-12-31)"),
    "date_from_datetime_parsing": _t("须是日期（如 2026-12-31）",
                                     "must be a date (like 2026-12-31)"),
    "datetime_type": _t("须是时间（如 2026-12-31T18:00:00+08:00）",
                        "must be a time (like 2026-12-31T18:00:00+08:00)"),
    "datetime_parsing": _t("须是时间（如 2026-12-31T18:00:00+08:00）",
                           "must be a time (like 2026-12-31T18:00:00+08:00)"),
    "datetime_from_date_parsing": _t("须是时间（如 2026-12-31T18:00:00+08:00）",
                                     "must be a time (like 2026-12-31T18:00:00+08:00)"),
    "uuid_type": _t("须是编号（UUID）", "must be an id (a UUID)"),
    "uuid_parsing": _t("须是编号（UUID）", "must be an id (a UUID)"),
}
_UNKNOWN = _t("取值无效（{said}）", "{said}")
# Said instead when the bound is one: an empty text or list.
_EMPTY = _t("不能为空", "must not be empty")
# Said of a money field that is not a whole number.
_MONEY_FIELDS = frozenset({"unit_price", "amount", "face_value", "per_visit_cap", "max_amount"})
_WHOLE_MINOR_UNITS = _t("须是以分计的整数（如 12.50 元写作 1250）",
                        "must be a whole number of minor units (12.50 is 1250)")

# The request models' own checks: `refusal(key)` raises one of these.
REFUSALS: dict[str, Texts] = {
    "one_credential": _t("请只提供券二维码内容或券码中的一个",
                         "send either the voucher's token or its manual code, not both"),
    "list_or_one": _t("请提供券列表，或一张券的二维码内容或券码，不要同时提供",
                      "send either a list of vouchers or one token or code"),
    "amount_for_one": _t("只能为单张券指定金额；多张券时由系统计算分配",
                         "an exact amount can be asked of one voucher only; with a list "
                         "of vouchers the split is worked out"),
    "limit_bounded": _t("限额须设置次数上限、金额上限或两者",
                        "a limit needs max_redemptions, max_amount or both"),
    "uses_with_price": _t("按次数计的券须同时设置次数与每次价格",
                          "uses and unit_price go together: a count of sessions and a "
                          "price each"),
    "program_years": _t("项目日期须在 2000 年至 9000 年之间",
                        "program dates must fall between the years 2000 and 9000"),
    "program_value": _t("项目须设置面值、按月额度，或次数加每次价格",
                        "a program needs a face_value, an allowance, or uses with a "
                        "unit_price"),
    "amount_or_uses": _t("请提供金额或次数中的一个", "send either an amount or a number of uses"),
    "time_zone_needed": _t("时间须带时区，例如 2026-12-31T23:59:59+08:00",
                           "times need a time zone, e.g. 2026-12-31T23:59:59+08:00"),
    "offline_credential": _t("离线交易须以券二维码内容或券码摘要指明券",
                             "an offline sale names its voucher by token or by code_hash"),
    "not_an_id": _t("须是编号（UUID）", "must be an id (a UUID)"),
    "unknown_currency": _t("{currency} 不是本服务支持的币种（ISO 4217）",
                           "{currency} is not a currency this service knows (ISO 4217)"),
}
_REFUSAL_TYPE = "pos_refusal"


def refusal(key: str, **params: Any) -> PydanticCustomError:
    """The error a request model's own check raises: its sentence is `REFUSALS[key]`."""
    texts = REFUSALS[key]
    return PydanticCustomError(_REFUSAL_TYPE, texts["en"], {"key": key, **params})


_TYPE_TAGS = frozenset({"int", "str", "bool", "float", "date", "datetime", "list", "dict",
                        "none", "uuid"})
_NOT_WHOLE = frozenset({"int_type", "int_parsing", "int_from_float"})
_JOINED = _t("{whole}{part}", "{whole} {part}")  # a list's item: 购物篮第 1 行


def field_phrase(loc: Sequence[int | str]) -> Phrase | None:
    """The field at pydantic's `loc` as a person names it (购物篮第 1 行的数量, not
    `basket.lines.0.quantity`); None for the body as a whole."""
    shown: Phrase | None = None
    pending: str | None = None  # a list's name: said by its item's number, or at the end
    for part in loc:
        if isinstance(part, int):
            item = Phrase(_ITEMS.get(pending or "", _ITEM), {"n": str(part + 1)})
            shown = item if shown is None else Phrase(_JOINED, {"whole": shown, "part": item})
            pending = None
            continue
        if part not in FIELD_NAMES and ("[" in part or "-" in part or part in _TYPE_TAGS):
            continue  # pydantic's tag of a union member or a validator, not a field
        if pending is not None:
            shown = _within(shown, pending)
        pending = part if part in _ITEMS else None
        if pending is None:
            shown = _within(shown, part)
    return shown if pending is None else _within(shown, pending)


def _within(shown: Phrase | None, name: str) -> Phrase:
    words = Phrase(FIELD_NAMES.get(name, _t(name, name)))
    return words if shown is None else Phrase(_OF, {"whole": shown, "part": words})


def error_phrase(error: Mapping[str, Any]) -> Phrase:
    """What is wrong, from one of pydantic's `errors()` (with its context)."""
    kind, context = error["type"], dict(error.get("ctx") or {})
    if kind == _REFUSAL_TYPE and context.get("key") in REFUSALS:
        return Phrase(REFUSALS[context["key"]], context)
    if kind in ("string_too_short", "too_short") and context.get("min_length") == 1:
        return Phrase(_EMPTY)
    loc = error.get("loc") or ()
    if kind in _NOT_WHOLE and any(part in _MONEY_FIELDS for part in loc[-2:]):
        return Phrase(_WHOLE_MINOR_UNITS)
    if kind == "literal_error":  # "'day', 'week' or 'month'": the list, in either language
        listed = str(context.get("expected", ""))
        zh = listed.replace(" or ", "、").replace(", ", "、")
        return Phrase(ERRORS[kind], {"expected": Phrase(_t(zh, listed))})
    texts = ERRORS.get(kind)
    if texts is None:
        return Phrase(_UNKNOWN, {"said": error["msg"]})
    return Phrase(texts, {k: str(v) for k, v in context.items()})
