"""Charts of a program report, drawn server-side by matplotlib as SVG.

Text stays text in the SVG (`svg.fonttype = none`), so the browser draws Chinese merchant
names with its own fonts; when a font that draws Chinese is installed (found the way the
voucher cards find theirs), matplotlib measures the labels with it too. matplotlib's
global state is not thread-safe, so charts are drawn one at a time, off the event loop.
"""

from __future__ import annotations

import functools
import io
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure  # a bare Figure: no pyplot, no GUI backend

from pos.money import to_major

log = logging.getLogger(__name__)

_lock = threading.Lock()
_COLOUR = "#2f6f8f"


@functools.cache
def _font_families() -> list[str]:
    """A CJK family first when one is installed, then matplotlib's default."""
    from pos.printing.fonts import FontNotFound, find_cjk_font

    try:
        face = find_cjk_font()
        font_manager.fontManager.addfont(str(face.path))
        name = font_manager.FontProperties(fname=str(face.path)).get_name()
        return [name, "DejaVu Sans"]
    except (FontNotFound, OSError, RuntimeError, ValueError):
        log.info("no font that draws Chinese for report charts; the browser draws the text")
        return ["DejaVu Sans"]


def _bar_chart(title: str, labels: Sequence[str], amounts: Sequence[int], currency: str,
               horizontal: bool) -> str:
    values = [float(to_major(a, currency)) for a in amounts]  # drawing only, not money
    height = max(2.4, 0.42 * len(labels) + 1.2) if horizontal else 3.2
    fig = Figure(figsize=(7.5, height), layout="constrained")
    ax = fig.add_subplot()
    if horizontal:
        ax.barh(list(labels)[::-1], values[::-1], color=_COLOUR)
        ax.set_xlabel(currency)
    else:
        ax.bar(list(labels), values, color=_COLOUR)
        ax.set_ylabel(currency)
    ax.set_title(title, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    out = io.StringIO()
    fig.savefig(out, format="svg")
    svg = out.getvalue()
    return svg[svg.index("<svg"):]  # inline in the page: drop the XML prolog and doctype


_TITLES = {"categories": "Redeemed by category", "merchants": "Redeemed by merchant",
           "months": "Redeemed by month"}


def render_charts(report: dict[str, Any], titles: dict[str, str] | None = None,
                  category_label: Callable[[str], str] = str) -> dict[str, str]:
    """SVG markup of each chart the report has data for; the console passes titles and
    category names in the reader's language."""
    currency = report["currency"]
    titles = _TITLES | (titles or {})
    wanted = {
        "categories": (titles["categories"],
                       [category_label(c["category"]) for c in report["by_category"]],
                       [c["amount"] for c in report["by_category"]], True),
        "merchants": (titles["merchants"],
                      [m["merchant_name"] for m in report["by_merchant"]],
                      [m["redeemed"] for m in report["by_merchant"]], True),
        "months": (titles["months"], [m["month"] for m in report["by_month"]],
                   [m["redeemed"] for m in report["by_month"]], False),
    }
    charts = {}
    with _lock, warnings.catch_warnings(), matplotlib.rc_context({
        "svg.fonttype": "none", "font.family": _font_families(), "svg.hashsalt": "pos",
    }):
        # Without a Chinese font matplotlib warns of missing glyphs; the SVG keeps the text.
        warnings.filterwarnings("ignore", message=".*Glyph .* missing from font")
        for key, (title, labels, amounts, horizontal) in wanted.items():
            if labels:
                charts[key] = _bar_chart(title, labels, amounts, currency, horizontal)
    return charts
