"""Driving Debian's Chromium with Playwright against the real service, for the till's tests.

Playwright's own browser downloads are not used: the tests launch the system Chromium
(`chromium` on PATH, or $POS_CHROMIUM). A fake camera is fed from a Y4M video written here
from a real voucher QR code, so the page decodes a real frame.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import qrcode
from PIL import Image
from playwright.async_api import Browser, Page, Playwright

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "till"
VIEWPORTS = {"portrait": (768, 1024), "landscape": (1280, 800)}
LANGUAGES = ("zh-CN", "en")

# Flags that work in a container with only loopback networking and no GPU.
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
    # The page asks for the camera; a fake device answers without a permission prompt.
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]


def chromium_path() -> str:
    found = os.environ.get("POS_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError(
            "Chromium is not installed; tests/system_setup.sh installs it (Debian: chromium).")
    return found


@asynccontextmanager
async def launch(playwright: Playwright, camera_video: Path | None = None
                 ) -> AsyncIterator[Browser]:
    """A fresh headless Chromium (Playwright gives each launch a new, temporary profile);
    with `camera_video`, its fake camera plays that file."""
    args = [*LAUNCH_ARGS]
    if camera_video is not None:
        args.append(f"--use-file-for-fake-video-capture={camera_video}")
    browser = await playwright.chromium.launch(
        executable_path=chromium_path(), args=args, headless=True)
    try:
        yield browser
    finally:
        await browser.close()


def write_qr_video(text: str, path: Path, width: int = 640, height: int = 480) -> Path:
    """A short Y4M (4:2:0) video of a white frame with the QR code of `text` in the middle.

    Y4M is a header line, then per frame "FRAME\\n" and the Y, U and V planes; Chromium's
    fake capture device loops it.
    """
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    side = height - 40
    image = code.make_image(fill_color="black", back_color="white").get_image()
    qr = image.convert("L").resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("L", (width, height), 255)
    frame.paste(qr, ((width - side) // 2, (height - side) // 2))
    y, cb, cr = frame.convert("RGB").convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(2):
            out.write(b"FRAME\n" + planes)
    return path


async def screenshot(page: Page, lang: str, step: str, *, both: bool = True) -> list[Path]:
    """Save the page as it is now in test-artifacts/till/<lang>/<step>-<layout>.png, at both
    tablet layouts (portrait 768x1024 and landscape 1280x800), then restore the viewport."""
    folder = ARTIFACTS / lang
    folder.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    saved = []
    layouts = VIEWPORTS.items() if both else [("current", None)]
    for name, size in layouts:
        if size is not None:
            await page.set_viewport_size({"width": size[0], "height": size[1]})
        path = folder / f"{step}-{name}.png"
        await page.screenshot(path=str(path), animations="disabled", caret="hide")
        saved.append(path)
    if original is not None:
        await page.set_viewport_size(original)
    return saved


def pdf_page_sizes_mm(pdf: bytes) -> list[tuple[float, float]]:
    """Each page's MediaBox in millimetres (Chromium writes them uncompressed)."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return [(float(w) * 25.4 / 72, float(h) * 25.4 / 72) for w, h in boxes]


def console_errors(page: Page) -> list[str]:
    """Collects the page's script errors (console and uncaught) as they happen."""
    errors: list[str] = []

    def on_console(message: Any) -> None:
        # Failed requests are the network's doing, which the tests assert on directly.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors
