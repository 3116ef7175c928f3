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

import qrcode
from PIL import Image

ERROR_CORRECTION = "M"
QUIET_ZONE = 4
DEFAULT_MODULE_PX = 8
MIN_MODULE_PX, MAX_MODULE_PX = 2, 20

Matrix = list[list[bool]]


def matrix(data: str) -> Matrix:
    """The symbol's modules (True = dark), without the quiet zone."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
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
