# ruff: noqa: RUF001
"""Sentences in the reader's language: Chinese first (zh-CN, the default), English too.

- `language(accept_language)`: which of `LANGUAGES` a request asks for (zh-CN when it
  asks for none we have).
- `render(template, params, lang)`: fills a sentence. A parameter named `category` (or
  ending in `_category`) holds a category code and is shown with the taxonomy's label in
  that language, never as a raw code; one ending in `amount` holds integer minor units and
  is shown in major units of the `currency` parameter (CNY when absent).
- `Phrase(texts, params)`: words in both languages that fill a parameter of a sentence
  (`render` puts them in the sentence's language).
- `Message(key, params)`: a sentence of `PROBLEM_TEXTS` not yet put into words; a problem
  raised with one is rendered in the request's language by `pos.api.problems`, and
  `str(message)` is its English.
- `PROBLEM_TEXTS`: the sentences of the refusals a till can get, keyed by problem code
  (that code's sentence) or by `code.variant` (a more precise one). `TILL_CODES` lists the
  codes a till can get; `tests/test_messages.py` fails when one has no Chinese sentence.
  `OFFLINE_FORWARD_CODES` lists those a forwarded offline sale can be refused with.
- `CORE_REASONS`: the reasons the core itself gives for a basket line (the never-list).
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Mapping
from typing import Any

from pos.money import CURRENCY_EXPONENTS, format_major
from pos.taxonomy import label

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

Texts = Mapping[str, str]  # language -> template


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


def msg(key: str, **params: Any) -> Message:
    """A `Message`; its key must be in `PROBLEM_TEXTS` (checked here, so a typo fails the
    first test that raises it)."""
    if key not in PROBLEM_TEXTS:
        raise KeyError(f"no sentence {key!r} in PROBLEM_TEXTS")
    return Message(key, params)


def problem_text(code: str, message: Message | None, detail: str, lang: str) -> str:
    """A problem's `detail` in `lang`: its message, else its code's sentence (in Chinese;
    in English the sentence it was raised with, which says more), else as raised."""
    if message is not None:
        return message.render(lang)
    if lang != "en" and code in PROBLEM_TEXTS:
        # A sentence raised as plain text keeps its specifics where the code's own sentence
        # has room for them (`{detail}`), as for validation errors.
        return render(pick(PROBLEM_TEXTS[code], lang), {"detail": detail}, lang)
    return detail


def _t(zh: str, en: str) -> Texts:
    return {"zh-CN": zh, "en": en}


PROBLEM_TEXTS: dict[str, Texts] = {
    # -- the till's own credential and the request ------------------------------------------
    "unauthorized": _t("这台平板未登录或配对已失效，请重新配对。",
                       "This device is not signed in. Pair the till again."),
    "forbidden": _t("这台平板无权进行此操作。", "This till may not do this."),
    "validation_error": _t("请求有误，请检查后重试：{detail}", "{detail}"),
    "validation_error.json": _t("请求不是有效的 JSON。", "The request is not valid JSON."),
    "validation_error.any": _t("请求有误：{message}。",
                               "The request was not understood: {message}."),
    "validation_error.field": _t("请求有误（{field}）：{message}。",
                                 "The request was not understood ({field}): {message}."),
    "validation_error.idempotency_key": _t(
        "Idempotency-Key 请求头必须是 1 到 200 个可打印字符。",
        "The Idempotency-Key header must be 1 to 200 printable characters."),
    "not_found": _t("没有找到对应记录：{detail}", "{detail}"),
    "not_found.redemption": _t("没有找到这笔收券记录。", "No redemption was found."),
    "not_found.metrics": _t(
        "运行指标未开启：尚未配置指标令牌（[metrics] token 或 POS_METRICS_TOKEN）。",
        "Metrics are off: no metrics token is configured ([metrics] token or "
        "POS_METRICS_TOKEN)."),
    "unauthorized.metrics": _t(
        "读取运行指标需要指标令牌：请在 Prometheus 的抓取配置中以 Bearer 方式发送。",
        "Reading the metrics needs the metrics token, sent as a Bearer token (authorization "
        "in Prometheus's scrape configuration)."),
    # -- people at the console or the command line ------------------------------------------
    "second_person_required.batch": _t(
        "{login} 生成了这次结算，其批次须由另一个账号批准。",
        "{login} cut this settlement run, so another account must approve its batches."),
    "not_found.account": _t("没有登录名为 {login} 的账号。", "No account has the login {login}."),
    "forbidden.account_disabled": _t("账号 {login} 已停用。",
                                     "The account {login} is disabled."),
    "forbidden.cannot_settle": _t(
        "账号 {login} 不能办理结算：结算须由财务人员或管理员办理。",
        "The account {login} cannot settle: that needs finance staff or an administrator."),
    "unsupported_media_type": _t("请以 JSON 格式发送请求。", "Send the request as JSON."),
    "payload_too_large": _t("请求内容过大。", "The request is too large."),
    "rate_limited": _t("短时间内输入券码次数过多，请一分钟后再试。",
                       "Too many codes were typed in a short time. Wait a minute and try again."),
    # -- the voucher's token or code ---------------------------------------------------------
    "invalid_token": _t("这张券无法识别或不是真券，请核对后重试。",
                        "This voucher code is not genuine."),
    "invalid_token.malformed_code": _t("券码格式不对，请核对是否输入正确。",
                                       "This code is not valid. Check it was typed correctly."),
    "invalid_token.unknown_code": _t("没有与此券码对应的券，请核对是否输入正确。",
                                     "No voucher has this code. Check it was typed correctly."),
    "invalid_token.key_withdrawn": _t(
        "这张券的签名密钥已被撤销，持券人需要领取新券。",
        "This voucher code was signed with a key that has been withdrawn. "
        "The holder needs a new voucher."),
    "token_expired": _t("这张券已过期，不能再使用。",
                        "This voucher has expired and can no longer be used."),
    "token_not_yet_valid": _t("这张券还未到使用日期，请查看开始日期。",
                              "This voucher cannot be used yet. Check its start date."),
    # -- the voucher cannot pay --------------------------------------------------------------
    "voucher_suspended": _t("这张券已暂停使用，请持券人联系项目方。",
                            "This voucher is on hold. Ask the holder to contact the program."),
    "voucher_revoked": _t("这张券已作废，不能使用。",
                          "This voucher has been cancelled and cannot be used."),
    "voucher_revoked.replaced": _t(
        "这张券的券码已被新券码取代，不能再使用。",
        "This voucher code has been replaced by a newer one and cannot be used."),
    "voucher_exhausted": _t("这张券已没有可用的余额或次数。",
                            "This voucher has nothing left to spend today."),
    "voucher_expired": _t("这张券已过期，不能再使用。",
                          "This voucher has expired and can no longer be used."),
    "voucher_replaced": _t("这张券已补发新券，请使用新券。",
                           "This voucher was replaced; use the new one."),
    "reissue_required": _t("这张券需要重新发放后才能使用，请联系项目方。",
                           "This voucher must be reissued first. Contact the program."),
    "merchant_not_accepted": _t("这张券不能在本店使用。",
                                "This voucher cannot be used in this shop."),
    "vouchers_changed": _t("这笔交易中的券刚在别处使用过，未扣款，请重新核对购物篮。",
                           "A voucher of this sale changed meanwhile. Nothing was taken; "
                           "check the basket again."),
    "voucher_listed_twice": _t("同一张券扫了两次，请删掉一张。",
                               "This voucher was scanned twice. Remove one."),
    "offline_sale_not_voidable": _t("这笔离线销售部分由项目垫付，收银台不能撤销，请联系项目方。",
                                    "This offline sale was partly paid by the program. "
                                    "Contact the program."),
    "already_voided": _t("这笔收券已经撤销过了。", "This sale was already cancelled."),
    "void_window_closed": _t("这笔收券时间太久，收银台不能撤销，请联系项目方。",
                             "This sale is too old to cancel at the till. Contact the program."),
    # -- the sale ----------------------------------------------------------------------------
    "currency_mismatch": _t("购物篮的币种与这张券不一致。",
                            "The basket's currency is not the voucher's."),
    "currency_mismatch.detail": _t(
        "这张券以 {voucher_currency} 支付，但购物篮是 {basket_currency}。",
        "This voucher pays in {voucher_currency}, but the basket is in {basket_currency}."),
    "no_eligible_lines": _t("购物篮里没有这张券可以支付的商品。",
                            "Nothing in this basket can be paid with this voucher."),
    "amount_exceeds_coverage": _t("金额超过了这张券可支付的额度。",
                                  "The amount is more than this voucher can pay."),
    "amount_exceeds_coverage.asked": _t(
        "这张券在此最多可付 {covered_amount}，本次要求 {asked_amount}。",
        "This voucher can pay at most {covered_amount} here; {asked_amount} was asked."),
    "amount_exceeds_coverage.now": _t("这张券现在最多可付 {covered_amount}。",
                                      "This voucher can pay at most {covered_amount} now."),
    "identity_check_required": _t("请先核对持券人身份，再确认后收券。",
                                  "Check the holder's identity, then confirm it before taking "
                                  "this voucher."),
    "channel_not_allowed": _t("这张券的剩余金额不能用该方式支付。",
                              "The rest of this basket cannot be paid that way."),
    "channel_not_allowed.channel": _t("这张券的剩余金额不能用 {channel} 支付。",
                              "The rest of this basket cannot be paid by {channel} for this "
                              "voucher."),
    "payment_declined": _t("剩余金额的支付被拒绝，券未扣款。",
                           "The payment of the rest was refused; the voucher was not charged."),
    "payment_declined.because": _t(
        "剩余金额的 {channel} 支付被拒绝：{message}。券未扣款，请换一种方式支付。",
        "The {channel} payment of the rest was refused: {message}. Nothing was taken from "
        "the voucher; take another payment."),
    "payment_failed.channel": _t(
        "剩余金额的 {channel} 支付未能完成。券未扣款，已付的款项正在退回，请换一种方式支付。",
        "The {channel} payment could not be completed. Nothing was taken from the voucher; "
        "any amount held is being given back. Take another payment."),
    "payment_failed.too_long": _t(
        "剩余金额的支付耗时太久，正在退回。券未扣款，请重新开始本单。",
        "The payment of the rest took too long and is being given back. Nothing was taken "
        "from the voucher; start the sale again."),
    "payment_failed": _t("剩余金额的支付未能完成，券未扣款，请重试或换一种方式。",
                         "The payment of the rest could not be completed; the voucher was not "
                         "charged. Try again or take another payment."),
    # -- repeated requests -------------------------------------------------------------------
    "idempotency_key_required": _t("此请求需要 Idempotency-Key 请求头，以免重复扣款。",
                                   "This request needs an Idempotency-Key header so it is "
                                   "never taken twice."),
    "idempotency_conflict": _t("同一笔请求的内容被改动了，请重新开始本单。",
                               "This key was used for another request. Start the sale again."),
    "idempotency_in_progress": _t("这笔请求仍在处理中，请稍候再试。",
                                  "This request is still being processed. Try again shortly."),
    # -- our side ----------------------------------------------------------------------------
    "plugin_error": _t("券规则或支付插件出错，未扣款，请重试或换一种方式。",
                       "A voucher rule or payment plugin failed. Nothing was charged; try "
                       "again or take another payment."),
    "plugin_error.channel": _t("支付方式 {channel} 出错，券未扣款，请换一种方式支付。",
                               "The payment channel {channel} failed. Nothing was taken from "
                               "the voucher; take another payment."),
    "plugin_error.rule": _t("券规则 {rule} 无法判断这个购物篮，未扣款，请重试或换一种方式。",
                            "The voucher rule {rule} could not decide on this basket. Nothing "
                            "was charged; try again or take another payment."),
    "plugin_error.not_installed": _t("券规则 {rule} 未安装，请联系项目方。",
                                     "The voucher rule {rule} is not installed."),
    "try_again": _t("系统繁忙，请重试；重复提交不会重复扣款。",
                    "The service is busy. Try again: a repeated request is never charged "
                    "twice."),
    "limit_reached": _t("这张券已达使用上限，请用其他方式付款：{detail}",
                        "{detail}"),
    "limit_reached.visit": _t(
        "这张券今天在本店已用到每次到店的上限，可于 {when}（{time_zone} 时间）起再用；"
        "这一单请用其他方式付款。",
        "This voucher has already paid its most per visit at this shop today. It can be used "
        "again from {when} ({time_zone} time); take another payment for this basket."),
    "limit_reached.day": _t(
        "这张券已达今天的使用上限，可于 {when}（{time_zone} 时间）起再用；这一单请用其他方式付款。",
        "This voucher has reached its limit for today. It can be used again from {when} "
        "({time_zone} time); take another payment for this basket."),
    "limit_reached.week": _t(
        "这张券已达本周的使用上限，可于 {when}（{time_zone} 时间）起再用；这一单请用其他方式付款。",
        "This voucher has reached its limit for this week. It can be used again from {when} "
        "({time_zone} time); take another payment for this basket."),
    "limit_reached.month": _t(
        "这张券已达本月的使用上限，可于 {when}（{time_zone} 时间）起再用；这一单请用其他方式付款。",
        "This voucher has reached its limit for this month. It can be used again from {when} "
        "({time_zone} time); take another payment for this basket."),
    "internal_error": _t("系统出错了，请重试；重复提交不会重复扣款。",
                         "Something went wrong on our side. Try again: a repeated request is "
                         "never charged twice."),
    # -- a sale the till made offline, forwarded once online (docs/offline.md) --------------
    "offline_sale_signature_invalid": _t(
        "这笔离线销售不是本收银台的平板签名的，未被接受，未记账。",
        "This offline sale is not signed by this till's tablet, so it is not accepted. "
        "Nothing was booked."),
    "offline_sale_unreadable": _t("这笔离线销售的内容无法读取，未被接受。",
                                  "This offline sale is not readable."),
    "offline_key_mismatch": _t("这笔离线销售的编号与签名的内容不一致，未被接受。",
                               "The Idempotency-Key must be the key the tablet signed with "
                               "the sale."),
    "offline_kit_unknown": _t("这笔离线销售所用的离线资料包不是发给本收银台的，未被接受。",
                              "This offline sale names a kit this till was never given."),
    "offline_kit_expired": _t(
        "这笔离线销售的时间不在收银台离线资料包的有效期内（平板的时间可能不准），未被接受。",
        "This sale was made outside the life of the till's offline kit (the tablet's clock "
        "may be wrong), so it is not accepted."),
    "offline_not_allowed": _t("这个项目不允许在本店离线收券，这笔离线销售未被接受。",
                              "This program cannot be used offline at this shop."),
    "offline_voucher_invalid": _t("这笔离线销售所用的券不是真券，未被接受。",
                                  "The voucher of this offline sale is not genuine."),
    "offline_voucher_invalid.not_valid_then": _t(
        "这笔离线销售发生时，这张券不在有效期内，未被接受。",
        "The voucher was not valid when this sale was made."),
    "offline_voucher_invalid.replaced": _t(
        "这张券在收银台取得离线资料包之前已补发新券，旧券不能再用，这笔离线销售未被接受。",
        "This voucher had been reissued before the till's offline kit was made, so its old "
        "card could no longer be used and this sale is not accepted."),
    "offline_voucher_invalid.unknown_code": _t(
        "这笔离线销售输入的券码不属于这张券，未被接受。",
        "The code typed for this offline sale is not this voucher's."),
    "offline_limit_exceeded": _t("这笔离线销售超出了公布的离线限额，未被接受。",
                                 "This offline sale is over the published offline limits."),
    "offline_limit_exceeded.per_sale": _t(
        "这笔离线销售用券支付了 {covered_amount}，离线资料包对这个购物篮最多允许 "
        "{allowed_amount}，未被接受。",
        "This offline sale took {covered_amount}; its kit allowed at most {allowed_amount} "
        "for this basket."),
    "offline_limit_exceeded.till_total": _t(
        "本收银台这个项目的离线收券总额已超出上限，这笔离线销售未被接受。",
        "This till went past its offline total for this program."),
    "offline_limit_exceeded.once_a_day": _t(
        "这张券当天已在本收银台离线使用过一次，这笔离线销售未被接受。",
        "This till already sold to this voucher offline that day."),
}

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
VOUCHER_N: Texts = _t("第 {n} 张券：", "Voucher {n}: ")

# Reasons the core gives for a basket line, whatever the program's rules say.
NEVER_RULE = "never_list"
CORE_REASONS: dict[str, Texts] = {
    "never_paid": _t("{description}：任何券都不能用于{category}。",
                     "{description}: no voucher pays for {category}."),
}
