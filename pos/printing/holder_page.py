# Chinese text uses full-width punctuation on purpose.
# ruff: noqa: RUF001
"""The holder's page, `GET /v/{code}`: the voucher on a phone, in Chinese and English.

Opened from a link by the holder or the volunteer who carries the voucher for them. It
shows the QR large on white (screens are read best at full brightness with a wide quiet
zone), what is left, what the voucher buys in plain words, "used X of Y", for allowances
the monthly amount and the date of the next one, the last uses (date, shop, amount), where
it can be spent and until when. A voucher with nothing left says so instead of showing a
QR to scan. It never shows the beneficiary or holder reference or the program's note:
whoever has the link has the voucher, but learns nothing about the person.
"""

from __future__ import annotations

import dataclasses
from html import escape

from pos.printing import qr


@dataclasses.dataclass(frozen=True)
class HolderView:
    program_name: str
    # active | spent | spent_until_next | suspended | revoked | expired | not_yet_valid |
    # key_withdrawn
    state: str
    left_zh: str  # e.g. "¥200.00" or "5 次"
    left_en: str
    per_visit: tuple[str, str] | None  # the per-visit cap, in Chinese and English
    valid_from: str
    valid_until: str
    partners: list[str]
    code: str
    token: str | None  # None when the voucher cannot be used: no QR is shown
    buys: tuple[tuple[str, str], ...] = ()  # what it pays for, in Chinese and English
    never: tuple[str, str] | None = None  # what no voucher pays for
    used: tuple[str, str] | None = None  # "used X of Y"
    allowance: tuple[str, str] | None = None  # the monthly amount and the next one's date
    recent: tuple[tuple[str, str, str], ...] = ()  # last uses: date, shop, amount


_STATE_TEXT = {
    "spent": ("此券已用完，不能再使用。", "This voucher has been used up."),
    "spent_until_next": ("本期额度已用完，下次发放后可再使用。",
                         "Nothing is left until the next monthly amount arrives."),
    "suspended": ("此券已暂停使用，请联系项目方。",
                  "This voucher is on hold. Please contact the program."),
    "revoked": ("此券已取消，不能使用。", "This voucher has been cancelled and cannot be used."),
    "expired": ("此券已过期。", "This voucher has expired."),
    "not_yet_valid": ("此券尚未生效，请在有效期内使用。",
                      "This voucher cannot be used yet. Use it within its dates."),
    "key_withdrawn": ("此券需要重新发放，请联系项目方。",
                      "This voucher needs to be issued again. Please contact the program."),
}

_STYLE = """
*{box-sizing:border-box}body{margin:0;font-family:system-ui,-apple-system,"PingFang SC",
"Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#fff;color:#111;line-height:1.4}
main{max-width:30rem;margin:0 auto;padding:1rem}h1{font-size:1.3rem;margin:.2rem 0 1rem}
.qr{background:#fff;padding:0;margin:0 auto 1rem;width:100%;max-width:26rem}
.qr svg{width:100%;height:auto;display:block}
.left{font-size:2.2rem;font-weight:700;margin:0}.en{color:#555;font-size:.95rem}
dl{margin:1rem 0}dt{color:#555;font-size:.9rem;margin-top:.8rem}dd{margin:0;font-size:1.1rem}
.code{font-family:ui-monospace,monospace;font-size:1.4rem;letter-spacing:.05em}
.notice{background:#fff4e5;border-left:.3rem solid #e67700;padding:.8rem;margin:1rem 0}
ul{padding-left:1.2rem;margin:.3rem 0}
table{border-collapse:collapse;width:100%}td{padding:.25rem .3rem;border-bottom:1px solid #eee}
td.amount,td:first-child{text-align:right;white-space:nowrap}td:first-child{text-align:left}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<meta name=\"robots\" content=\"noindex\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def render(view: HolderView) -> str:
    parts = [f"<h1>{escape(view.program_name)}</h1>"]
    if view.token is not None and view.state == "active":
        parts.append(f'<div class="qr">{qr.svg(view.token)}</div>')
        parts.append('<p class="en">在合作商户出示此二维码 · Show this QR code at the till</p>')
    else:
        zh, en = _STATE_TEXT.get(view.state, _STATE_TEXT["revoked"])
        parts.append(f'<div class="notice"><p>{escape(zh)}</p>'
                     f'<p class="en">{escape(en)}</p></div>')
    parts.append(f'<p class="en">余额 · Left</p><p class="left">{escape(view.left_zh)}</p>')
    if view.left_en != view.left_zh:
        parts.append(f'<p class="en">{escape(view.left_en)}</p>')
    for pair in (view.used, view.per_visit, view.allowance):
        if pair is not None:
            parts.append(f'<p>{escape(pair[0])} · <span class="en">{escape(pair[1])}</span></p>')
    parts.append(_what_it_buys(view))
    parts.append(_recent(view))
    partners = "".join(f"<li>{escape(p)}</li>" for p in view.partners) or \
        "<li>—</li>"
    parts.append(
        "<dl>"
        f"<dt>有效期 · Valid</dt><dd>{escape(view.valid_from)} – {escape(view.valid_until)}</dd>"
        f"<dt>可用商户 · Where to use it</dt><dd><ul>{partners}</ul></dd>"
        f'<dt>手动码 · Manual code</dt><dd class="code">{escape(view.code)}</dd>'
        "</dl>"
    )
    return _page(view.program_name, "".join(parts))


def _what_it_buys(view: HolderView) -> str:
    items = "".join(f"<li>{escape(zh)}<br><span class=\"en\">{escape(en)}</span></li>"
                    for zh, en in view.buys if zh or en)
    never = ("" if view.never is None else
             f'<p>{escape(view.never[0])}<br><span class="en">{escape(view.never[1])}</span></p>')
    if not items and not never:
        return ""
    return (f'<dl class="buys"><dt>可购买 · What it buys</dt><dd><ul>{items}</ul>{never}</dd>'
            "</dl>")


def _recent(view: HolderView) -> str:
    if not view.recent:
        return ('<dl class="recent"><dt>最近使用 · Last uses</dt>'
                "<dd>尚未使用 · <span class=\"en\">Not used yet</span></dd></dl>")
    rows = "".join(
        f"<tr><td>{escape(day)}</td><td>{escape(shop)}</td>"
        f'<td class="amount">{escape(amount)}</td></tr>'
        for day, shop, amount in view.recent)
    return (f'<dl class="recent"><dt>最近使用 · Last uses</dt><dd><table>{rows}</table></dd>'
            "</dl>")


def render_missing(replaced: bool) -> str:
    if replaced:
        zh = "此券已更换为新券，旧的二维码和手动码不能再使用。请使用新发放的券。"
        en = ("This voucher was replaced by a new one; the old QR code and manual code no "
              "longer work. Please use the new voucher.")
    else:
        zh, en = "找不到此券，请检查链接。", "No voucher was found. Please check the link."
    return _page("Voucher", f'<div class="notice"><p>{escape(zh)}</p>'
                            f'<p class="en">{escape(en)}</p></div>')
