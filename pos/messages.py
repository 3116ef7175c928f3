# ruff: noqa: RUF001
"""Sentences in the reader's language: Chinese first (zh-CN, the default), English too.

- `language(accept_language)`: which of `LANGUAGES` a request asks for (zh-CN when it
  asks for none we have).
- `render(template, params, lang)`: fills a sentence. A parameter named `category` (or
  ending in `_category`) holds a category code and is shown with the taxonomy's label in
  that language, never as a raw code; one ending in `amount` holds integer minor units and
  is shown in major units of the `currency` parameter (CNY when absent).
- `Phrase(texts, params)`: words in both languages, filling a parameter of a sentence
  (`render` puts them in the sentence's language) or raised as a problem's whole sentence;
  `words(zh, en, **params)` writes one where it is said (a check's own refusal).
- `Message(key, params)`: a sentence of `PROBLEM_TEXTS` not yet put into words; a problem
  raised with one (or with a `Phrase`) is rendered in the request's language by
  `pos.api.problems`, and `str(message)` is its English.
- `PROBLEM_TEXTS` (kept in `pos.problem_texts`): the sentences of the refusals, keyed by
  problem code (that code's sentence) or by `code.variant` (a more precise one).
  `TILL_CODES` lists the codes a till can get; `tests/test_messages.py` fails when one has
  no Chinese sentence.
  `OFFLINE_FORWARD_CODES` lists those a forwarded offline sale can be refused with.
- `CORE_REASONS`: the reasons the core itself gives for a basket line (the never-list).
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Mapping
from typing import Any

from pos.money import CURRENCY_EXPONENTS, format_major
from pos.problem_texts import PROBLEM_TEXTS as PROBLEM_TEXTS  # the catalogue, re-exported
from pos.problem_texts import Texts as Texts
from pos.problem_texts import texts
from pos.taxonomy import label

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


def language(accept_language: str | None) -> str:
    """The language of `LANGUAGES` an `Accept-Language` header prefers (q-values honoured);
    zh-CN when the header is absent or names none of ours."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        tag = tag.strip().lower()
        chosen = "zh-CN" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        if chosen is not None and quality > 0:
            ranked.append((-quality, index, chosen))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def terminal_language(environ: Mapping[str, str]) -> str:
    """The language of `LANGUAGES` a terminal's locale asks for (`LC_ALL`, then
    `LC_MESSAGES`, then `LANG`, as POSIX orders them): en for an English locale, else zh-CN,
    the default (a bare `C` or `POSIX` locale names no language)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return "en" if value.lower().startswith("en") else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


class _Params(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, params: Mapping[str, Any], lang: str) -> str:
    """`template` filled with `params` as `lang` shows them (see the module's docstring)."""
    currency = str(params.get("currency", "CNY"))
    shown = _Params()
    for key, value in params.items():
        if isinstance(value, Phrase | Message):  # words of their own, in the same language
            shown[key] = value.render(lang)
        elif (key == "category" or key.endswith("_category")) and isinstance(value, str):
            shown[key] = label(value, lang)
        elif (key.endswith("amount") and isinstance(value, int) and not isinstance(value, bool)
              and currency in CURRENCY_EXPONENTS):
            shown[key] = format_major(value, currency)
        else:
            shown[key] = str(value)
    try:
        return string.Formatter().vformat(template, (), shown)
    except (ValueError, IndexError, KeyError, AttributeError):
        return template  # a malformed sentence is shown as written, never a failure


def pick(texts: Texts, lang: str) -> str:
    """The template of `texts` for `lang`, Chinese when `lang` has none."""
    return texts.get(lang) or texts.get(DEFAULT_LANGUAGE) or next(iter(texts.values()), "")


@dataclasses.dataclass(frozen=True)
class Message:
    """A sentence of `PROBLEM_TEXTS` with its parameters, put into words when the reader's
    language is known."""

    key: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def render(self, lang: str) -> str:
        return render(pick(PROBLEM_TEXTS[self.key], lang), self.params, lang)

    def __str__(self) -> str:
        return self.render("en")


@dataclasses.dataclass(frozen=True)
class Phrase:
    """Words that go into a sentence as one of its parameters, themselves in the reader's
    language (a field's name, what is wrong with it)."""

    texts: Texts
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def render(self, lang: str) -> str:
        return render(pick(self.texts, lang), self.params, lang)

    def __str__(self) -> str:
        return self.render("en")


def words(zh: str, en: str, **params: Any) -> Phrase:
    """A `Phrase` written where it is said."""
    return Phrase(texts(zh, en), params)


def msg(key: str, **params: Any) -> Message:
    """A `Message`; its key must be in `PROBLEM_TEXTS` (checked here, so a typo fails the
    first test that raises it)."""
    if key not in PROBLEM_TEXTS:
        raise KeyError(f"no sentence {key!r} in PROBLEM_TEXTS")
    return Message(key, params)


def problem_text(code: str, message: Message | Phrase | None, detail: str, lang: str
                 ) -> str:
    """A problem's `detail` in `lang`: its message, else its code's sentence (in Chinese;
    in English the sentence it was raised with, which says more), else as raised."""
    if message is not None:
        return message.render(lang)
    if lang != "en" and code in PROBLEM_TEXTS:
        # A sentence raised as plain text keeps its specifics where the code's own sentence
        # has room for them (`{detail}`), as for validation errors.
        return render(pick(PROBLEM_TEXTS[code], lang), {"detail": detail}, lang)
    return detail



# The problem codes a till can get on its path (quote, redeem, void, reading a redemption).
TILL_CODES: frozenset[str] = frozenset({
    "unauthorized", "forbidden", "validation_error", "not_found", "unsupported_media_type",
    "payload_too_large", "rate_limited", "invalid_token", "token_expired",
    "token_not_yet_valid", "voucher_suspended", "voucher_revoked", "voucher_exhausted",
    "voucher_expired", "voucher_replaced", "reissue_required", "merchant_not_accepted",
    "already_voided", "void_window_closed", "currency_mismatch", "no_eligible_lines",
    "amount_exceeds_coverage", "identity_check_required", "channel_not_allowed",
    "limit_reached",
    "payment_declined", "payment_failed", "idempotency_key_required", "idempotency_conflict",
    "idempotency_in_progress", "plugin_error", "try_again", "internal_error",
    "vouchers_changed", "voucher_listed_twice", "offline_sale_not_voidable",
})

# The problem codes a forwarded offline sale can be refused with: the till lists such a
# sale for the cashier, with the reason in the cashier's language.
OFFLINE_FORWARD_CODES: frozenset[str] = frozenset({
    "offline_sale_signature_invalid", "offline_sale_unreadable", "offline_key_mismatch",
    "offline_kit_unknown", "offline_kit_expired", "offline_not_allowed",
    "offline_voucher_invalid", "offline_limit_exceeded", "identity_check_required",
    "validation_error", "not_found",
})

# Which voucher of a sale paid by several a refusal is about (before its sentence).
VOUCHER_N: Texts = texts("第 {n} 张券：", "Voucher {n}: ")

# Reasons the core gives for a basket line, whatever the program's rules say.
NEVER_RULE = "never_list"
CORE_REASONS: dict[str, Texts] = {
    "never_paid": texts("{description}：任何券都不能用于{category}。",
                     "{description}: no voucher pays for {category}."),
}
