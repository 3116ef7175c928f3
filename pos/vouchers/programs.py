# ruff: noqa: RUF001
"""Defining and changing a program: it checks itself before it is stored.

Its rules and channels must be installed; its rule settings must be keys the rules declare,
with category codes of docs/categories.md; its dates are read in the program's own time
zone (a date is local midnight; an end date is inclusive); a monthly allowance must fit
the validity window, and a per-visit cap the face value. A refusal is `validation_error`
naming the field. A running program may change only what is safe to change (name, a later
end, caps, limits, partners, rule settings); each change is recorded
(`pos.storage.program_changes`) and applies to later redemptions only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pos.api.field_errors import FIELD_NAMES
from pos.api.requests import ProgramIn, ProgramPatchIn
from pos.errors import Problem, validation_error
from pos.messages import msg, words
from pos.problem_texts import texts
from pos.service.services import Services
from pos.storage import program_changes
from pos.storage import setup as setup_store
from pos.storage.program_changes import ProgramChange
from pos.storage.setup import Program
from pos.taxonomy import CATEGORIES
from pos.vouchers.credits import months_touched


def local_moment(value: date | datetime, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date means local midnight; an end date is inclusive (up to the next midnight)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0), tzinfo=zone)


def _refuse(field: str, zh: str, en: str, **params: Any) -> Problem:
    """A refusal naming the field, by its name and its path (`rule_settings.categories`),
    and saying why, in the reader's language."""
    top = re.split(r"[.\[]", field, maxsplit=1)[0]
    name = FIELD_NAMES.get(top, texts(top, top))["zh-CN"]
    where = words(name + " {path}", "{path}", path=field)
    return validation_error(
        msg("validation_error.field", field=where, message=words(zh, en, **params)),
        field=field)


def _refuse_cap(cap: int, ceiling: int, currency: str) -> Problem:
    return _refuse("per_visit_cap", "{cap_amount} 超过了一张券的总额 {ceiling_amount}",
                   "{cap_amount} is more than a voucher holds ({ceiling_amount})",
                   cap_amount=cap, ceiling_amount=ceiling, currency=currency)


def program_zone(name: str | None, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        raise _refuse("time_zone", "{name} 不是时区名称，应类似 Asia/Shanghai 或 Europe/Berlin",
                      "{name} is not a time zone name such as Asia/Shanghai or "
                      "Europe/Berlin", name=repr(name)) from None


def check_rule_settings(services: Services, restrictions: list[str],
                        rule_settings: Mapping[str, Mapping[str, Any]]) -> None:
    """Every key is one a rule declares, every category code is one of the taxonomy."""
    plugin_names = set(services.plugins.plugin_names())
    for rule, settings in rule_settings.items():
        field = f"rule_settings.{rule}"
        if rule not in restrictions and (rule in services.plugins.rules
                                         or rule not in plugin_names):
            raise _refuse(field, "本项目没有 {rule} 规则可设置",
                          "this program has no rule {rule} to set", rule=repr(rule))
        declared = services.plugins.rule_program_settings(rule)
        if declared is None:
            continue
        for key, value in settings.items():
            if key not in declared:
                known = ", ".join(sorted(declared)) or "nothing"
                raise _refuse(f"{field}.{key}", "{rule} 规则没有 {key} 这项设置（可设：{known}）",
                              "the rule {rule} has no setting {key} (it takes {known})",
                              rule=repr(rule), key=repr(key), known=known)
            kind = declared[key]
            if kind in ("categories", "merchants") and not (
                    isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise _refuse(f"{field}.{key}", "须是代码列表", "must be a list of codes")
            if kind == "categories":
                unknown = [v for v in value if v not in CATEGORIES]
                if unknown:
                    raise _refuse(f"{field}.{key}",
                                  "{code} 不是商品类别代码（见 docs/categories.md）",
                                  "{code} is not a category code (see docs/categories.md)",
                                  code=repr(unknown[0]))


def _check_terms(program: ProgramIn, valid_from: datetime, valid_until: datetime,
                 zone: ZoneInfo) -> None:
    if valid_until <= valid_from:
        raise _refuse("valid_until", "须晚于生效时间", "must come after valid_from")
    if program.allowance is not None:
        months = months_touched(valid_from, valid_until, zone)
        if program.allowance.count > months:
            raise _refuse("allowance.count", "{count} 次按月发放超出了有效期所跨的 {months} 个月",
                          "{count} monthly credits do not fit a validity window of "
                          "{months} month(s)", count=program.allowance.count, months=months)
    if program.per_visit_cap is not None:
        ceiling = _value_per_voucher(program)
        if ceiling and program.per_visit_cap > ceiling:
            raise _refuse_cap(program.per_visit_cap, ceiling, program.currency)
    check_limits([limit.period for limit in program.limits])


def check_limits(periods: list[str]) -> None:
    for i, period in enumerate(periods):
        if periods.index(period) != i:
            raise _refuse(f"limits[{i}]", "有两条 {period} 限额，请合并为一条",
                          "there are two {period} limits; make it one", period=period)


def _value_per_voucher(program: ProgramIn) -> int:
    if program.face_value:
        return program.face_value
    if program.uses is not None and program.unit_price is not None:
        return program.uses * program.unit_price
    return 0  # allowances: a cap may exceed one month's credit when months roll over


async def define_program(services: Services, program: ProgramIn) -> str:
    """Check a program against what is installed and store it; returns its id."""
    unknown = services.plugins.unknown_rules(program.restrictions)
    if unknown:
        raise _refuse("restrictions", "没有安装名为 {rule} 的用途规则",
                      "no voucher rule is installed with the name {rule}",
                      rule=repr(unknown[0]))
    missing = [c for c in program.channels if services.plugins.channel(c) is None]
    if missing:
        raise _refuse("channels", "没有安装名为 {channel} 的支付方式",
                      "no payment channel is installed with the name {channel}",
                      channel=repr(missing[0]))
    check_rule_settings(services, program.restrictions, program.rule_settings)
    zone = program_zone(program.time_zone, services.config.redemption.timezone)
    if not await setup_store.known_time_zone(services.pool, zone.key):
        raise _refuse("time_zone", "数据库不认识时区 {zone}",
                      "the database does not know the time zone {zone}", zone=repr(zone.key))
    valid_from = local_moment(program.valid_from, zone, end=False)
    valid_until = local_moment(program.valid_until, zone, end=True)
    _check_terms(program, valid_from, valid_until, zone)
    values = program.model_dump()
    values.update(valid_from=valid_from, valid_until=valid_until, time_zone=zone.key,
                  limits=[limit.stored() for limit in program.limits])
    return await setup_store.create_program(services.pool, values)


async def change_program(services: Services, program_id: str,
                         patch: ProgramPatchIn) -> tuple[Program, ProgramChange | None]:
    """Apply what may change; the program as it now is, and the recorded change."""
    current = await setup_store.get_program(services.pool, program_id)
    zone = ZoneInfo(current.time_zone)
    given = patch.model_fields_set - {"by"}
    values: dict[str, Any] = {}
    if "name" in given:
        if patch.name is None:
            raise _refuse("name", "项目须有名称", "a program needs a name")
        values["name"] = patch.name
    if "valid_until" in given:
        if patch.valid_until is None:
            raise _refuse("valid_until", "项目须有截止时间", "a program needs an end")
        until = local_moment(patch.valid_until, zone, end=True)
        if until < current.valid_until:
            raise _refuse("valid_until", "进行中的项目只能延后结束，不能提前；"
                          "如需停用，请暂停或吊销券",
                          "a running program can only end later, not earlier; suspend or "
                          "revoke vouchers instead")
        values["valid_until"] = until
    if "per_visit_cap" in given:
        ceiling = current.face_value or (current.uses or 0) * (current.unit_price or 0)
        if patch.per_visit_cap is not None and ceiling and patch.per_visit_cap > ceiling:
            raise _refuse_cap(patch.per_visit_cap, ceiling, current.currency)
        values["per_visit_cap"] = patch.per_visit_cap
    if "limits" in given:
        check_limits([limit.period for limit in patch.limits or []])
        values["limits"] = [limit.stored() for limit in patch.limits or []]
    if "rule_settings" in given:
        settings = patch.rule_settings or {}
        check_rule_settings(services, list(current.restrictions), settings)
        values["rule_settings"] = settings
    if "merchant_ids" in given and patch.merchant_ids is None:
        raise _refuse("merchant_ids", "请提交完整的合作商户列表",
                      "send the full list of partner merchants")
    change = await program_changes.change_program(
        services.pool, program_id, changed_by=patch.by or "admin", values=values,
        merchant_ids=patch.merchant_ids if "merchant_ids" in given else None)
    return await setup_store.get_program(services.pool, program_id), change
