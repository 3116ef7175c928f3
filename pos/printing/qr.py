"""QR codes of voucher tokens, as PNG and SVG.

The choices, and why:

* **Error correction M** (about 15% of the symbol may be lost). A token is about 400
  characters, which at level M is a version-15 symbol of 77x77 modules. Level Q or H would
  need 93 or 101 modules for the same token, so each module would be 20-30% smaller on the
  same card: on paper at arm's length the size of a module matters more than redundancy
  beyond M, while M still survives a crease, a stain or a glare spot. L (69 modules) saves
  little and gives up half of the damage tolerance of a card carried for months.
* **Module size 8 px** by default in the PNG (77 + 8 quiet modules = 680 px square). On a
  phone screen that is about 45-60 mm wide, and printed at 300 dpi it is 58 mm; a card
  prints it at 0.45-0.5 mm per module, which a tablet camera reads at 30-50 cm. Callers may
  ask for 2-20 px.
* **Quiet zone of 4 modules**, as ISO/IEC 18004 requires; readers fail without it.
* **Black on white, no anti-aliasing**: PNG scaled by whole pixels (nearest neighbour);
  SVG drawn with `shape-rendering="crispEdges"` so it stays sharp at any size.
"""

from __future__ import annotations

import io
import itertools
import re

import qrcode
import qrcode.util
from PIL import Image
from qrcode.main import copy_2d_array, precomputed_qr_blanks

ERROR_CORRECTION = "M"
QUIET_ZONE = 4
DEFAULT_MODULE_PX = 8
MIN_MODULE_PX, MAX_MODULE_PX = 2, 20

Matrix = list[list[bool]]


# ------------------------------------------------------------------------------------------
# Choosing the mask faster. qrcode places the data eight times (once per mask) and scores
# each placement with pure-Python loops: about 30-60 ms per voucher token, which is what
# drawing a sheet of cards costs. The data is placed once here; the eight candidates are
# built with integer operations on whole rows and scored by the same four ISO/IEC 18004
# penalty rules with regular expressions and bit counts: a few milliseconds. Any mask
# gives a valid symbol; the penalty only picks the easiest one to read.

_RUN = re.compile(r"0{5,}|1{5,}")
_FINDER_LIKE = re.compile(r"(?=1011101(?:0000)|(?:0000)1011101)")
_mask_rows: dict[tuple[int, int], list[int]] = {}


def _row_bits(cells: list[bool | None] | list[bool]) -> int:
    return int("".join("1" if cell else "0" for cell in cells), 2)


def _mask_bits(size: int, pattern: int) -> list[int]:
    """Each row of mask `pattern` as an int, column 0 the most significant bit."""
    key = (size, pattern)
    if key not in _mask_rows:
        flips = qrcode.util.mask_func(pattern)
        _mask_rows[key] = [_row_bits([bool(flips(r, c)) for c in range(size)])
                           for r in range(size)]
    return _mask_rows[key]


def penalty(rows: list[int], size: int) -> int:
    """The four penalty rules of ISO/IEC 18004 (section 7.8.3) for rows given as ints."""
    texts = [format(row, f"0{size}b") for row in rows]
    lines = texts + ["".join(col) for col in zip(*texts, strict=True)]
    score = sum(len(m.group()) - 2 for line in lines for m in _RUN.finditer(line))  # N1=3
    full = (1 << (size - 1)) - 1
    for upper, lower in itertools.pairwise(rows):
        same = ~(upper ^ lower) & ~(upper ^ (upper >> 1)) & ~(lower ^ (lower >> 1)) & full
        score += 3 * same.bit_count()  # N2: 2x2 blocks of one colour
    score += 40 * sum(len(_FINDER_LIKE.findall(line)) for line in lines)  # N3
    dark = sum(row.bit_count() for row in rows)
    score += 10 * (abs(dark * 20 // (size * size) - 10))  # N4: 10 per 5% from half dark
    return score


class _QRCode(qrcode.QRCode):  # type: ignore[misc]  # qrcode has no type hints
    modules: list[list[bool | None]]
    modules_count: int
    version: int

    def best_mask_pattern(self) -> int:
        self.makeImpl(True, 0)  # places the data once (masked with pattern 0)
        size = self.modules_count
        placed = [_row_bits(row) for row in self.modules]
        # Which modules carry data: those still empty after the function patterns and
        # the (test) format and version information, as map_data sees them.
        self.modules = copy_2d_array(precomputed_qr_blanks[self.version])
        self.setup_type_info(True, 0)
        if self.version >= 7:
            self.setup_type_number(True)
        data = [_row_bits([cell is None for cell in row]) for row in self.modules]
        zero = _mask_bits(size, 0)
        plain = [(p ^ z) & d for p, z, d in zip(placed, zero, data, strict=True)]
        fixed = [p & ~d for p, d in zip(placed, data, strict=True)]
        scores = []
        for pattern in range(8):
            flips = _mask_bits(size, pattern)
            rows = [f | ((v ^ m) & d)
                    for f, v, m, d in zip(fixed, plain, flips, data, strict=True)]
            scores.append((penalty(rows, size), pattern))
        return min(scores)[1]


def matrix(data: str) -> Matrix:
    """The symbol's modules (True = dark), without the quiet zone."""
    code = _QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(data)
    code.make(fit=True)
    return [list(map(bool, row)) for row in code.get_matrix()]


def image(data: str | Matrix, module_px: int = DEFAULT_MODULE_PX) -> Image.Image:
    """A 1-bit image of the symbol with its quiet zone, `module_px` pixels per module."""
    modules = matrix(data) if isinstance(data, str) else data
    size = len(modules) + 2 * QUIET_ZONE
    img = Image.new("1", (size, size), 1)
    pixels = img.load()
    assert pixels is not None
    for y, row in enumerate(modules):
        for x, dark in enumerate(row):
            if dark:
                pixels[x + QUIET_ZONE, y + QUIET_ZONE] = 0
    return img.resize((size * module_px, size * module_px), Image.Resampling.NEAREST)


def png(data: str, module_px: int = DEFAULT_MODULE_PX) -> bytes:
    out = io.BytesIO()
    image(data, module_px).save(out, format="PNG", optimize=True)
    return out.getvalue()


def runs(modules: Matrix) -> list[tuple[int, int, int]]:
    """Horizontal runs of dark modules as (x, y, length): one rectangle per run keeps the
    SVG and PDF drawings small."""
    found = []
    for y, row in enumerate(modules):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                found.append((start, y, x - start))
            else:
                x += 1
    return found


def svg(data: str, module_px: int = DEFAULT_MODULE_PX) -> str:
    """An SVG of the symbol; the viewBox is in modules, the default size in pixels."""
    modules = matrix(data)
    size = len(modules) + 2 * QUIET_ZONE
    path = "".join(f"M{x + QUIET_ZONE} {y + QUIET_ZONE}h{n}v1h-{n}z"
                   for x, y, n in runs(modules))
    pixels = size * module_px
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{pixels}" height="{pixels}" viewBox="0 0 {size} {size}" '
        'shape-rendering="crispEdges" role="img" aria-label="QR code">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>'
    )
