"""The HTML of the report page at `/reports/{program}` and of its sign-in form.

Everything shown is escaped; charts are inline SVG from `pos.reports.charts`. No script:
the page is a document a funder can print or save.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from pos.money import format_major

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:64rem;padding:0 1rem;color:#1d2a33}
h1{margin-bottom:.2rem}.sub{color:#5b6b75;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0 1.4rem}td,th{padding:.25rem .8rem;
border-bottom:1px solid #dde3e7;text-align:left}td.n,th.n{text-align:right;
font-variant-numeric:tabular-nums}.cards{display:flex;flex-wrap:wrap;gap:1rem}
.card{border:1px solid #dde3e7;border-radius:.5rem;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}svg{max-width:100%;height:auto}
.warn{color:#a33}
"""


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body>{body}</body></html>")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]],
           numeric: Sequence[bool]) -> str:
    head = "".join(f'<th class="{"n" if n else ""}">{escape(h)}</th>'
                   for h, n in zip(header, numeric, strict=True))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"n" if n else ""}">{escape(str(c))}</td>'
                         for c, n in zip(row, numeric, strict=True)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_page(report: dict[str, Any], charts: dict[str, str], csv_base: str) -> str:
    cur = report["currency"]

    def money(amount: int) -> str:
        return f"{format_major(amount, cur)} {cur}"

    program, value, red = report["program"], report["value"], report["redemptions"]
    cards = [
        ("Vouchers issued", str(report["vouchers"]["issued"])),
        ("Value issued", money(value["issued"])),
        ("Redeemed", money(value["redeemed"])),
        ("Voided", money(value["voided"])),
        ("Expired", money(value["expired"])),
        ("Remaining", money(value["remaining"])),
        ("Redemptions", str(red["count"])),
        ("Average basket", money(red["average_basket"])),
        ("Average covered", money(red["average_covered"])),
        ("Not yet used", str(report["vouchers"]["unused"])),
    ]
    parts = [
        f"<h1>{escape(program['name'])}</h1>",
        f'<p class="sub">Report generated {escape(report["generated_at"])} · '
        f"all amounts in {escape(cur)}</p>",
        '<div class="cards">' + "".join(
            f'<div class="card">{escape(label)}<b>{escape(figure)}</b></div>'
            for label, figure in cards) + "</div>",
    ]
    if value["unaccounted"]:
        parts.append(f'<p class="warn">Unaccounted: {escape(money(value["unaccounted"]))}'
                     " (issued minus redeemed, expired and remaining). Run pos verify.</p>")
    links = " · ".join(f'<a href="{escape(csv_base)}/{s}.csv">{s}.csv</a>'
                       for s in ("summary", "categories", "merchants", "months", "unused"))
    parts.append(f"<p>Download as CSV: {links}</p>")

    parts.append("<h2>By category</h2>" + charts.get("categories", ""))
    parts.append(_table(("Category", "Redemptions", "Redeemed"),
                        ((c["category"], c["redemptions"] or "", money(c["amount"]))
                         for c in report["by_category"]), (False, True, True)))
    parts.append("<h2>By merchant</h2>" + charts.get("merchants", ""))
    parts.append(_table(("Merchant", "Redemptions", "Redeemed", "Voids", "Voided"),
                        ((m["merchant_name"], m["redemptions"], money(m["redeemed"]),
                          m["voids"], money(m["voided"])) for m in report["by_merchant"]),
                        (False, True, True, True, True)))
    parts.append("<h2>By month</h2>" + charts.get("months", ""))
    parts.append(_table(("Month", "Redemptions", "Redeemed", "Voids", "Voided"),
                        ((m["month"], m["redemptions"], money(m["redeemed"]), m["voids"],
                          money(m["voided"])) for m in report["by_month"]),
                        (False, True, True, True, True)))
    unused = report["unused_beneficiaries"]
    parts.append(f"<h2>Not yet used ({unused['count']})</h2>"
                 "<p>Pseudonymous references, for the program's social workers to follow up."
                 "</p>")
    parts.append(_table(("Beneficiary reference",), ((r,) for r in unused["refs"]), (False,)))
    if unused["truncated"]:
        parts.append(f'<p>The full list is in <a href="{escape(csv_base)}/unused.csv">'
                     "unused.csv</a>.</p>")
    return _page(f"Report: {program['name']}", "".join(parts))


def login_page(next_path: str, failed: bool) -> str:
    message = '<p class="warn">That admin token is not right.</p>' if failed else ""
    return _page("Sign in to reports", (
        "<h1>Program reports</h1><p>Sign in with the admin token.</p>" + message +
        '<form method="post" action="/reports/login">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<label>Admin token <input type="password" name="token" autocomplete="off" '
        'required></label> <button type="submit">Sign in</button></form>'))
