"""Voucher cards: what a card says, where each thing goes, and the card as a PNG.

A card is ID-1 size (85.6 x 54 mm, a bank card) so it fits a wallet and a card sleeve:
program name, value (amount, uses or monthly allowance), validity dates, the manual code
and the QR, labelled in Chinese and English. The layout is computed once in millimetres
(`layout`) and drawn by two renderers, this module's Pillow one (PNG) and the PDF sheets
(`pos.printing.pdf_sheets`), so a printed card is the card shown on screen.
"""

from __future__ import annotations

import dataclasses
import functools
import io
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont

from pos.money import format_major
from pos.printing import qr
from pos.printing.fonts import FontFace
from pos.storage.setup import Program

WIDTH_MM, HEIGHT_MM = 85.6, 54.0
MARGIN_MM = 3.5
QR_MM = 44.0  # the QR with its quiet zone: about 0.52 mm per module at error level M
DPI = 300

# Typographic marks spelled out, so the source stays plain ASCII where it can be misread.
TIMES, EN_DASH = "\u00d7", "\u2013"
_SYMBOLS = {"CNY": "¥", "HKD": "HK$", "MOP": "MOP$", "TWD": "NT$", "USD": "$", "EUR": "€"}


@dataclasses.dataclass(frozen=True)
class CardFace:
    """What one card says. No beneficiary or holder reference: a card may be lost."""

    program_name: str
    value_zh: str
    value_en: str
    valid_from: str
    valid_until: str
    code: str
    token: str


def money_text(amount: int, currency: str) -> str:
    symbol = _SYMBOLS.get(currency)
    figure = format_major(amount, currency)
    return f"{symbol}{figure}" if symbol else f"{currency} {figure}"


def describe_value(program: Program) -> tuple[str, str]:
    """The card's value line in Chinese and English, e.g. ("¥300.00", "CNY 300.00")."""
    currency = program.currency
    uses = program.uses
    if uses:
        return f"{uses} 次", f"{uses} uses"
    allowance = program.allowance or {}
    parts_zh, parts_en = [], []
    if program.face_value:
        parts_zh.append(money_text(program.face_value, currency))
        parts_en.append(f"{currency} {format_major(program.face_value, currency)}")
    if allowance.get("amount"):
        money = money_text(allowance["amount"], currency)
        parts_zh.append(f"{money}/月 {TIMES}{allowance.get('count', 1)}")
        parts_en.append(f"{currency} {format_major(allowance['amount'], currency)} a month"
                        f" x {allowance.get('count', 1)}")
    return " + ".join(parts_zh), " + ".join(parts_en)


def card_face(program: Program, *, token: str, code: str, timezone: str) -> CardFace:
    zone = ZoneInfo(timezone)
    start = program.valid_from.astimezone(zone)
    # valid_until is the first moment the voucher no longer works; a card shows the last day.
    end = (program.valid_until - timedelta(seconds=1)).astimezone(zone)
    value_zh, value_en = describe_value(program)
    return CardFace(program.name, value_zh, value_en, f"{start:%Y-%m-%d}",
                    f"{end:%Y-%m-%d}", code, token)


# ------------------------------------------------------------------------------------------
# layout, in millimetres


@dataclasses.dataclass(frozen=True)
class TextItem:
    text: str
    x: float
    baseline: float
    size: float  # em height in mm
    grey: bool = False


@dataclasses.dataclass(frozen=True)
class CardLayout:
    texts: list[TextItem]
    qr_x: float
    qr_y: float
    qr_size: float
    modules: qr.Matrix


Measure = Callable[[str, float], float]  # (text, size in mm) -> width in mm


def _fit(text: str, size: float, width: float, measure: Measure) -> float:
    """The largest size not above `size` at which `text` fits in `width`."""
    actual = measure(text, size)
    return size if actual <= width else size * width / actual


def _wrap(text: str, size: float, width: float, measure: Measure, lines: int) -> list[str]:
    """Break at spaces where there are any, else between any two characters (Chinese)."""
    out: list[str] = []
    current = ""
    tokens = text.split(" ")
    pieces = [t + " " for t in tokens[:-1]] + [tokens[-1]]
    for piece in pieces:
        for part in ([piece] if measure(piece, size) <= width else list(piece)):
            if current and measure((current + part).rstrip(), size) > width:
                out.append(current.rstrip())
                current = part.lstrip()
            else:
                current += part
    if current.strip():
        out.append(current.rstrip())
    if len(out) > lines:
        out = out[:lines]
        while out[-1] and measure(out[-1] + "…", size) > width:
            out[-1] = out[-1][:-1]
        out[-1] += "…"
    return out


def layout(face: CardFace, measure: Measure) -> CardLayout:
    x = MARGIN_MM
    column = WIDTH_MM - QR_MM - MARGIN_MM - x - 1.0
    texts: list[TextItem] = []
    for i, line in enumerate(_wrap(face.program_name, 3.4, column, measure, 2)):
        texts.append(TextItem(line, x, 7.5 + i * 4.2, 3.4))

    def labelled(label: str, value: str, top: float, size: float) -> None:
        texts.append(TextItem(label, x, top, 2.1, grey=True))
        texts.append(TextItem(value, x, top + size + 0.6, _fit(value, size, column, measure)))

    labelled("面值 Value", face.value_zh, 17.0, 4.6)
    if face.value_en and face.value_en != face.value_zh:
        texts.append(TextItem(face.value_en, x, 25.6, _fit(face.value_en, 2.3, column,
                                                               measure)))
    labelled("有效期 Valid", f"{face.valid_from} {EN_DASH} {face.valid_until}", 30.2, 2.5)
    labelled("手动码 Manual code", face.code, 37.8, 3.1)
    for i, line in enumerate(("在合作商户出示二维码付款", "Show the QR at a partner shop")):
        texts.append(TextItem(line, x, 47.6 + i * 2.9, _fit(line, 2.0, column, measure),
                              grey=True))
    qr_y = (HEIGHT_MM - QR_MM) / 2
    return CardLayout(texts, WIDTH_MM - MARGIN_MM - QR_MM + 1.5, qr_y, QR_MM,
                      qr.matrix(face.token))


# ------------------------------------------------------------------------------------------
# PNG


@functools.lru_cache(maxsize=64)
def _pil_font(path: str, index: int, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, px, index=index)


def measurer(font: FontFace) -> Measure:
    """Text widths from the font's own metrics, at a reference size scaled linearly."""
    reference = _pil_font(str(font.path), font.index, 200)

    def measure(text: str, size: float) -> float:
        return float(reference.getlength(text)) * size / 200

    return measure


def render_png_image(face: CardFace, font: FontFace, dpi: int = DPI) -> Image.Image:
    px = dpi / 25.4
    card = layout(face, measurer(font))
    img = Image.new("L", (round(WIDTH_MM * px), round(HEIGHT_MM * px)), 255)
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, img.width - 1, img.height - 1), radius=round(3 * px),
                           outline=170, width=max(1, round(px / 4)))
    for item in card.texts:
        pil_font = _pil_font(str(font.path), font.index, max(6, round(item.size * px)))
        draw.text((item.x * px, item.baseline * px), item.text, font=pil_font,
                  fill=90 if item.grey else 0, anchor="ls")
    # Whole pixels per module, centred in the QR box: a blurred module edge costs more
    # readability than a QR a little smaller than its box.
    size = len(card.modules) + 2 * qr.QUIET_ZONE
    module_px = max(1, int(card.qr_size * px // size))
    symbol = qr.image(card.modules, module_px)
    offset = (card.qr_size * px - symbol.width) / 2
    img.paste(symbol.convert("L"), (round(card.qr_x * px + offset),
                                    round(card.qr_y * px + offset)))
    return img


def render_png(face: CardFace, font: FontFace, dpi: int = DPI) -> bytes:
    out = io.BytesIO()
    render_png_image(face, font, dpi).save(out, format="PNG", optimize=True,
                                           dpi=(dpi, dpi))
    return out.getvalue()
