"""Renders the console's pages: Jinja2 templates with autoescaping on (everything a person
typed, such as a merchant's name, is escaped), the reader's language, money in major
units, times in the service's time zone (an end as the last day it covers), categories
and statuses by name."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2

from pos.console import i18n
from pos.console.category_names import category_name
from pos.money import exponent, to_major

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("pos.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def money(amount: int | None, currency: str = "CNY") -> str:
    if amount is None:
        return "—"
    currency = currency.strip()
    return f"{to_major(int(amount), currency):,.{exponent(currency)}f} {currency}"


def render(template: str, lang: str, *, timezone: str, page_query: dict[str, str] | None = None,
           **context: Any) -> str:
    """The page in `lang`; `page_query` is its own query, which the language switch keeps."""
    zone = ZoneInfo(timezone)
    text = i18n.translator(lang)

    def when(value: datetime | str | None, with_time: bool = True,
             time_zone: str | None = None) -> str:
        """A moment in the service's time zone, or in `time_zone` (a program's own, for its
        days)."""
        if value is None:
            return "—"
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        local = moment.astimezone(ZoneInfo(time_zone) if time_zone else zone)
        return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")

    def last_day(end: datetime | str | None, time_zone: str | None = None) -> str:
        """The last local day of a window stored as its first moment past the end
        (`valid_until`): a program that ends on 30 June is stored as 1 July, 00:00, in the
        program's time zone, which `time_zone` names."""
        if end is None:
            return "—"
        moment = datetime.fromisoformat(end) if isinstance(end, str) else end
        return when(moment - timedelta(microseconds=1), False, time_zone)

    def as_json(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)

    return _ENV.get_template(template).render(
        t=text, lang=lang, lang_href="?" + urlencode(
            {**(page_query or {}), "lang": "en" if lang == "zh-CN" else "zh-CN"}),
        money=money, when=when, last_day=last_day, as_json=as_json,
        category=lambda code: category_name(code, lang),
        problems_json=json.dumps(i18n.problem_sentences(lang), ensure_ascii=False),
        **context)
