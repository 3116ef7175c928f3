# ruff: noqa: RUF001
"""The sentences of the refusals a till, a console or a script can get, in zh-CN and en:
`PROBLEM_TEXTS`, keyed by problem code (that code's sentence) or by `code.variant` (a more
precise one). `pos.messages` fills them (`msg`, `render`) in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping

Texts = Mapping[str, str]  # language -> template


def texts(zh: str, en: str) -> Texts:
    """A sentence in both languages."""
    return {"zh-CN": zh, "en": en}


_t = texts

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
    "validation_error.sign_in_form": _t("请通过登录表单提交。", "Send the sign-in form."),
    "validation_error.settings_clash": _t("这些项目设置相互矛盾。",
                                          "These program settings do not fit together."),
    "validation_error.idempotency_key": _t(
        "Idempotency-Key 请求头必须是 1 到 200 个可打印字符。",
        "The Idempotency-Key header must be 1 to 200 printable characters."),
    "not_found": _t("没有找到对应记录：{detail}", "{detail}"),
    "not_found.redemption": _t("没有找到这笔收券记录。", "No redemption was found."),
    "not_found.address": _t("这个地址没有任何内容。", "There is nothing at this address."),
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
                            "This voucher has no balance or uses left."),
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
    "service_unavailable": _t("暂时连不上数据库，请过几秒再试；重复提交不会重复扣款。",
                              "The service cannot reach its database just now. Try again in "
                              "a few seconds: a repeated request is never charged twice."),
    "method_not_allowed": _t("这个地址不接受这种请求。",
                             "This address does not accept that kind of request."),
    "http_error": _t("请求无法处理。", "The request cannot be handled."),
    "invalid_pairing_code": _t("配对码无效或已过期，请向管理员要一个新的。",
                               "This pairing code is not valid or has expired. Ask for a new "
                               "one."),
    # -- staff: accounts, sign-in, four eyes ---------------------------------------------------
    "sign_in_failed": _t("登录名或密码不正确。", "The login or the password is not right."),
    "sign_in_throttled": _t("密码错误次数太多，请稍后再试。",
                            "Too many wrong passwords; try again later."),
    "wrong_password": _t("当前密码不正确。", "The current password is not right."),
    "password_change_required": _t("请先修改初始密码。", "Change your first password first."),
    "csrf_failed": _t("页面已过期，请刷新后重试。", "The page is out of date; reload it."),
    "login_taken": _t("该登录名已被使用。", "That login is taken."),
    "not_an_account": _t("这项操作须使用个人账号。", "This needs a named account."),
    "second_person_required": _t("这项操作须由另一位同事完成。", "Another person must do this."),
    "already_decided": _t("已经有人处理过了。", "Someone already decided this."),
    # -- programs, issuance, cards -----------------------------------------------------------
    "program_ended": _t("这个项目已结束，不能再发券。",
                        "This program has ended; no vouchers can be issued."),
    "already_issued": _t("名单中有受助人已持有本项目的这一批次券，未发任何券。",
                         "A beneficiary already holds this grant of this program; nothing "
                         "was issued."),
    "issuance_conflict": _t("这个批次编号已用于另一份名单，未发任何券。",
                            "This batch id was already used for a different list; nothing "
                            "was issued."),
    "batch_invalid": _t("名单有问题，未发任何券。", "The list has problems; nothing was issued."),
    "batch_unreadable": _t("名单无法读取，未发任何券。",
                           "The list cannot be read; nothing was issued."),
    "font_unavailable": _t("没有可显示中文的字体，无法生成卡片。",
                           "No font that draws Chinese is installed; cards cannot be drawn."),
    # -- settlement --------------------------------------------------------------------------
    "period_not_over": _t("结算期只能截止到过去的时间。",
                          "A settlement period can only end in the past."),
    "settlement_conflict": _t("另一次结算正在进行，请稍后再试。",
                              "Another settlement run is in progress; try again shortly."),
    "settlement_timeout": _t("结算用时太长，未完成；请稍后再试，不会重复结算。",
                             "The settlement run took too long and did not finish; try again: "
                             "nothing is settled twice."),
    "invalid_transition": _t("当前状态下不能这样操作。", "Not possible in the current status."),
    "nothing_to_pay": _t("没有需要支付的款项。", "There is nothing to pay."),
    "export_refused": _t("这个批次不能这样导出：{detail}", "{detail}"),
    "unknown_format": _t("没有安装这种导出格式。", "No exporter is installed with that name."),
    # -- a payment provider's webhook (machine to machine) ------------------------------------
    "webhook_invalid": _t("回调内容无法理解。", "The webhook was not understood."),
    "webhook_replayed": _t("这个回调已处理过。", "This webhook was already taken."),
    "webhook_signature_invalid": _t("回调签名无效。", "The webhook's signature is not valid."),
    "webhook_stale": _t("回调时间太久远，未被接受。", "The webhook is too old."),
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

# What a `not_found` problem names (`pos.errors.not_found`): each thing, as a person says it.
THINGS: dict[str, Texts] = {
    "voucher": _t("券", "voucher"),
    "merchant": _t("商户", "merchant"),
    "till": _t("收银台", "till"),
    "program": _t("项目", "program"),
    "program or merchant": _t("项目或商户", "program or merchant"),
    "redemption": _t("收券记录", "redemption"),
    "issuance": _t("发券批次", "issuance"),
    "settlement batch": _t("结算批次", "settlement batch"),
    "settlement run": _t("结算", "settlement run"),
    "report section": _t("报表分节", "report section"),
    "account": _t("账号", "account"),
    "change awaiting confirmation": _t("待确认的变更", "change awaiting confirmation"),
    "live token of yours": _t("您的有效令牌", "live token of yours"),
    "token": _t("令牌", "token"),
    "signing key": _t("签名密钥", "signing key"),
    "payment channel taking webhooks": _t("接收回调的支付方式",
                                          "payment channel taking webhooks"),
    "approved product list": _t("核准商品清单", "approved product list"),
}
