"""Printable A4 sheets of voucher cards, with cut marks, as PDF.

Ten ID-1 cards per A4 page (2 x 5, edge to edge, so one straight cut serves two cards),
cut marks in the margins at every card edge. Text is embedded as a subset of the CJK font
found at run time, so the sheet prints the same anywhere. The QR is embedded as a 1-bit
image at one pixel per module, drawn without interpolation: a printer scales it to
sharp-edged modules at its own resolution, and a 10,000-card sheet stays about a kilobyte
per card instead of thousands of vector rectangles each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from fpdf import FPDF

from pos.printing import cards, qr
from pos.printing.cards import CardFace
from pos.printing.fonts import FontFace
from pos.private_files import open_private

PAGE_W, PAGE_H = 210.0, 297.0
COLUMNS, ROWS = 2, 5
PER_PAGE = COLUMNS * ROWS
LEFT = (PAGE_W - COLUMNS * cards.WIDTH_MM) / 2
TOP = (PAGE_H - ROWS * cards.HEIGHT_MM) / 2
MARK_GAP, MARK_LEN = 2.0, 5.0
_FONT = "cjk"


def _cut_marks(pdf: FPDF) -> None:
    """Short lines in the margins, in line with every card edge; none inside the grid, so
    nothing is printed on a card."""
    pdf.set_draw_color(0)
    pdf.set_line_width(0.15)
    bottom = TOP + ROWS * cards.HEIGHT_MM
    right = LEFT + COLUMNS * cards.WIDTH_MM
    for col in range(COLUMNS + 1):
        x = LEFT + col * cards.WIDTH_MM
        pdf.line(x, TOP - MARK_GAP - MARK_LEN, x, TOP - MARK_GAP)
        pdf.line(x, bottom + MARK_GAP, x, bottom + MARK_GAP + MARK_LEN)
    for row in range(ROWS + 1):
        y = TOP + row * cards.HEIGHT_MM
        pdf.line(LEFT - MARK_GAP - MARK_LEN, y, LEFT - MARK_GAP, y)
        pdf.line(right + MARK_GAP, y, right + MARK_GAP + MARK_LEN, y)


def _card(pdf: FPDF, face: CardFace, x0: float, y0: float, measure: cards.Measure) -> None:
    card = cards.layout(face, measure)
    for item in card.texts:
        pdf.set_text_color(90 if item.grey else 0)
        pdf.set_font(_FONT, size=item.size * 72 / 25.4)  # mm -> pt
        pdf.text(x0 + item.x, y0 + item.baseline, item.text)
    symbol = qr.image(card.modules, 1)
    pdf.image(symbol, x=x0 + card.qr_x, y=y0 + card.qr_y, w=card.qr_size, h=card.qr_size)


def render_sheets(faces: Iterable[CardFace], font: FontFace, out: Path | BinaryIO, *,
                  title: str = "Vouchers", progress: Callable[[int], None] | None = None,
                  ) -> int:
    """Write the sheets; return the number of cards. Tens of milliseconds a card, most
    of it encoding the QR, so `progress` is told after each card."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(title)
    pdf.set_creator("pos-vouchers")
    pdf.add_font(_FONT, fname=str(font.path), collection_font_number=font.index)
    measure = cards.measurer(font)
    count = 0
    for face in faces:
        slot = count % PER_PAGE
        if slot == 0:
            pdf.add_page()
            _cut_marks(pdf)
            pdf.set_font(_FONT, size=7)
            pdf.set_text_color(120)
            pdf.text(LEFT, PAGE_H - 4, f"{title} · 第 {pdf.page_no()} 页 page")
        row, col = divmod(slot, COLUMNS)
        _card(pdf, face, LEFT + col * cards.WIDTH_MM, TOP + row * cards.HEIGHT_MM, measure)
        count += 1
        if progress is not None:
            progress(1)
    if count == 0:
        pdf.add_page()
    if isinstance(out, Path):
        # Every QR on the sheets is a usable token: the file is its owner's alone.
        with open_private(out) as handle:
            handle.write(bytes(pdf.output()))
    else:
        out.write(bytes(pdf.output()))
    return count
