# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""The sentences the `pos` commands print for a person, in zh-CN and en.

`say(key, **params)` puts the sentence `CLI_TEXTS[key]` into words in the terminal's
language (`pos.messages.terminal_language`: English under an English locale, else Chinese,
the default), filled by `pos.messages.render`: a parameter named `category` is shown by the
taxonomy's label, one ending in `amount` as money. `category_name` names a category of a
report (never its code), `role_name` an account's role, `check_name` a check of
`pos verify`, and `pad` aligns a column of mixed Chinese and Latin text. Ids, tokens,
amounts and paths read the same in both languages, so a script can find them; JSON outputs
are for machines and stay as they are.
"""

from __future__ import annotations

import os
import unicodedata
from typing import Any

from pos.console.i18n import TEXT
from pos.errors import Problem
from pos.messages import Texts, pick, problem_text, render, terminal_language
from pos.problem_texts import texts as _t
from pos.taxonomy import label


def language() -> str:
    """The language the terminal's locale asks for (zh-CN unless it is English)."""
    return terminal_language(os.environ)


def say(key: str, **params: Any) -> str:
    """The sentence `key` of `CLI_TEXTS` filled with `params`, in the terminal's language."""
    lang = language()
    return render(pick(CLI_TEXTS[key], lang), params, lang)


def error(key: str, **params: Any) -> str:
    """An error line, `error: ...` in English, the sentence `key` filled with `params`."""
    return say("error", detail=say(key, **params))


def problem_line(problem: Problem) -> str:
    """The error line of a refusal, its sentence in the terminal's language."""
    return say("error", detail=problem_text(problem.code, problem.message, problem.detail,
                                            language()))


def category_name(code: str) -> str:
    """A report's category by its name in the terminal's language, never the raw code."""
    if code == "uncategorised":
        return say("report.uncategorised")
    return label(code, language())


def role_name(role: str) -> str:
    """An account's role: in Chinese by the console's name for it, in English as typed after
    `--role`."""
    if language() == "en":
        return role
    return TEXT.get(f"role_{role}", (role, role))[0]


def pad(text: str, width: int, *, right: bool = False) -> str:
    """`text` padded to `width` terminal columns (a Chinese character takes two)."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    fill = " " * max(0, width - shown)
    return fill + text if right else text + fill


CLI_TEXTS: dict[str, Texts] = {
    "error": _t("错误：{detail}", "error: {detail}"),
    "list_sep": _t("、", ", "),
    # -- pos issue, pos cards, pos expire ----------------------------------------------------
    "issue.not_a_file": _t("{path} 不是文件", "{path} is not a file"),
    "issue.checked": _t("{path}：全部 {count} 行都可以发放（批次 {batch}），本次未发放。",
                        "{path}: all {count} rows can be issued (as batch {batch}); nothing "
                        "was issued"),
    "issue.issued": _t("已发放 {count} 张券，批次 {batch}",
                       "issued {count} vouchers in batch {batch}"),
    "issue.issued_before": _t("批次 {batch} 之前已发放（{count} 张券），本次未发放。",
                              "batch {batch} was issued before ({count} vouchers); nothing "
                              "was issued now"),
    "issue.wrote_list": _t("已写入 {path}（券码、令牌和持券人链接：请妥善保管，勿外传）",
                           "wrote {path} (codes, tokens and holder links: keep it private)"),
    "issue.wrote_cards": _t("已写入 {path}（{count} 张券卡）", "wrote {path} ({count} cards)"),
    "issue.bad_row": _t("  第 {line} 行{ref}：{problems}", "  line {line}{ref}: {problems}"),
    "issue.bad_row_ref": _t("（编号 {ref}）", " (ref {ref})"),
    "issue.progress": _t("发放中", "issuing"),
    "issue.progress_unit": _t("张券", "voucher"),
    "cards.progress": _t("券卡", "cards"),
    "issue.wrote_cards_unit": _t("张", "card"),
    "cards.needs_batch": _t("--issuance 需要批次的编号（UUID）",
                            "--issuance needs the batch's id (a UUID)"),
    "expire.expired": _t("已将 {credits} 笔额度（{vouchers} 张券）中的 {amounts} 转入 "
                         "program_expired（过期）",
                         "expired {amounts} from {credits} credit(s) of {vouchers} voucher(s) "
                         "into program_expired"),
    "expire.nothing": _t("零", "nothing"),
    "expire.ended": _t("已将 {count} 张已结束项目的券标记为过期",
                       "{count} voucher(s) of ended programs marked expired"),
    # -- pos settle ---------------------------------------------------------------------------
    "settle.run": _t("结算 {run} 截至 {period_end}：{count} 个批次",
                     "run {run} up to {period_end}: {count} batch(es)"),
    "settle.lines": _t("{count} 笔", "{count} lines"),
    "settle.exported": _t("{path}  {size} 字节  sha256 {sha256}",
                          "{path}  {size} bytes  sha256 {sha256}"),
    "settle.period_end": _t("{text} 不是日期，也不是 ISO 格式的日期时间。",
                            "{text} is not a date or an ISO date-time."),
    "status.draft": _t("草稿", "draft"),
    "status.approved": _t("已批准", "approved"),
    "status.paid": _t("已付款", "paid"),
    "status.failed": _t("付款失败", "failed"),
    # -- pos report ----------------------------------------------------------------------------
    "report.issued": _t("已发券数", "vouchers issued"),
    "report.unused": _t("未使用", "not yet used"),
    "report.value.issued": _t("发放金额", "value issued"),
    "report.value.redeemed": _t("已使用金额", "value redeemed"),
    "report.value.voided": _t("已撤销金额", "value voided"),
    "report.value.expired": _t("已过期金额", "value expired"),
    "report.value.remaining": _t("剩余金额", "value remaining"),
    "report.value.unaccounted": _t("去向不明金额", "value unaccounted"),
    "report.redemptions": _t("收券笔数", "redemptions"),
    "report.voided": _t("已撤销 {count}", "voided {count}"),
    "report.average_basket": _t("平均购物篮", "average basket"),
    "report.average_covered": _t("平均券付金额", "average covered"),
    "report.by_category": _t("按品类", "by category"),
    "report.by_merchant": _t("按商户", "by merchant"),
    "report.by_month": _t("按月份", "by month"),
    "report.uncategorised": _t("未分类", "uncategorised"),
    # -- pos users -------------------------------------------------------------------------------
    "users.login_length": _t("登录名须为 2 到 63 个字符", "a login has 2 to 63 characters"),
    "users.account": _t("账号 {login}（{role}）", "account {login} ({role})"),
    "users.password": _t("一次性密码：{password}", "one-time password: {password}"),
    "users.password_note": _t("  （首次在 /admin/ 登录时必须修改）",
                              "  (it must be changed at the first sign-in at /admin/)"),
    "users.token": _t("个人 API 令牌：{token}", "personal API token: {token}"),
    "users.token_note": _t("  （仅此一次显示；以 'Authorization: Bearer <token>' 发送）",
                           "  (shown only now; send it as 'Authorization: Bearer <token>')"),
    "users.active": _t("启用", "active"),
    "users.disabled": _t("已停用", "disabled"),
    # -- pos run: the start-up banner (URLs, tokens and secrets read the same in both) --------
    "serve.listening": _t("券服务已启动：{base}", "Voucher service listening on {base}"),
    "serve.till": _t("收银台：", "till:"),
    "serve.console": _t("管理台：", "console:"),
    "serve.accounts": _t("（添加账号：pos users add 登录名 --role 角色）",
                         "(accounts: pos users add LOGIN --role ROLE)"),
    "serve.api": _t("API：", "API:"),
    "serve.readiness": _t("就绪检查：", "readiness:"),
    "serve.metrics": _t("运行指标：", "metrics:"),
    "serve.metrics_on": _t("{url}（请发送 [metrics] 令牌：Authorization: Bearer <token>）",
                           "{url}  (send the [metrics] token: Authorization: Bearer <token>)"),
    "serve.metrics_off": _t("未开启；如需读取，请设置 POS_METRICS_TOKEN（32 个或更多随机字符）"
                            "后启动，并以 Bearer 令牌发送到 {url}",
                            "off; to read them, start with POS_METRICS_TOKEN set to 32 or more "
                            "random characters and send it as a bearer token to {url}"),
    "serve.workers": _t("进程数：", "workers:"),
    "run.workers_not_whole": _t("无效的 int 值：{value}", "invalid int value: {value}"),
    "run.workers_negative": _t("须为 0 或更大的整数，现为 {value}",
                               "must be 0 or more, not {value}"),
    "serve.admin_token": _t("  管理员令牌（自动生成，保存在数据文件夹中）：{token}",
                            "  admin token (generated, kept in the data folder): {token}"),
    "serve.till_secret": _t("  {name} 的收银台密钥：{secret}",
                            "  till secret for {name}: {secret}"),
    "serve.demo_voucher": _t("  演示券（wish，每店每天最多 100）：券码 {code}",
                             "  demo voucher (wish, 100 per shop and day): code {code}"),
    "serve.demo_token": _t("  演示券令牌：{token}", "  demo voucher token: {token}"),
    "serve.holder_page": _t("  持券人页面：{url}", "  its holder page: {url}"),
    "serve.sign_in": _t("  管理台登录（{role}）：{login} / {password}"
                        "（一次性密码，首次登录时须修改）",
                        "  console sign-in ({role}): {login} / {password}  (one-time: change it "
                        "at first sign-in)"),
    "serve.baskets": _t("  每个项目一个可在收银台使用的购物篮：",
                        "  a basket per program that works at the till:"),
    "serve.basket": _t("  {program}：券码 {code}；购物篮：{items}；{outcome}",
                       "  {program}: code {code}; basket: {items}; {outcome}"),
    "serve.basket_item": _t("{quantity} x {description}，单价 {price}",
                            "{quantity} x {description} at {price}"),
    "serve.outcome.wish": _t("券支付 100.00（每店每天的上限），其余 30.00 用其他方式支付",
                             "the voucher pays 100.00 (its most per shop and day), 30.00 is "
                             "paid another way"),
    "serve.outcome.nutrition": _t("券支付牛奶（30.00）；糖果（8.00）用其他方式支付",
                                  "the voucher pays the milk (30.00); the candy (8.00) is paid "
                                  "another way"),
    # -- pos migrate, pos verify, pos keys -------------------------------------------------------
    "migrate.done": _t("数据库结构已是最新", "schema is up to date"),
    "verify.ok": _t("正常", "ok"),
    "verify.fail": _t("失败", "FAIL"),
    "verify.check": _t("{mark} {name}（已检查 {count} 项）", "{mark} {name} ({count} checked)"),
    "verify.audit_chain": _t("审计日志哈希链", "audit log hash chain"),
    "verify.breaks_at": _t("       在第 {seq} 行断开：{reason}",
                           "       breaks at row {seq}: {reason}"),
    "keys.rotated": _t("新的有效密钥 {kid}", "new active key {kid}"),
    "keys.retired": _t("密钥 {kid} 已停用（已签发的券仍可验证）", "key {kid} retired"),
    "keys.revoked": _t("密钥 {kid} 已撤销", "key {kid} revoked"),
    "keys.needs_kid": _t("pos keys {action} 需要密钥的 kid",
                         "pos keys {action} needs the key's kid"),
    "keys.line": _t("{kid}  {status}  创建于 {created}", "{kid}  {status}  created {created}"),
    "key_status.active": _t("有效", "active"),
    "key_status.retired": _t("已停用", "retired"),
    "key_status.revoked": _t("已撤销", "revoked"),
}

# What `pos verify` checks, by the name the storage layer gives each check (its English).
CHECK_NAMES: dict[str, str] = {
    "every ledger transaction sums to zero": "每笔账务交易借贷相抵为零",
    "every voucher's balance equals its ledger entries": "每张券的余额等于其账目",
    "every merchant's redemptions equal its ledger entries": "每个商户的收券等于其账目",
    "every program's ledger balances": "每个项目的账目平衡",
    "the whole ledger sums to zero": "全部账目合计为零",
    "every offline shortfall is booked to its program's offline-risk account":
        "每笔离线差额都已记入其项目的离线风险账户",
    "no voucher balance is negative": "没有券的余额为负",
    "every settlement batch's total equals its redemptions and adjustments":
        "每个结算批次的总额等于其收券与调整",
    "every settled line matches its redemption": "每条已结算明细与其收券一致",
    "every settlement batch's ledger entries equal its total and status":
        "每个结算批次的账目与其总额和状态一致",
    "every merchant's payable equals its not yet settled redemptions and voids":
        "每个商户的应付款等于其未结算的收券与撤销",
    "nothing a settlement run covered was left unsettled": "结算所覆盖的收券均已结算",
}


def check_name(name: str) -> str:
    """A `pos verify` check's name in the terminal's language."""
    return CHECK_NAMES.get(name, name) if language() != "en" else name
