"""Finding a font that draws Chinese for cards and PDF sheets, at run time.

In order: the configured `[vouchers] font_path`; a CJK font shipped inside an installed
Python package (for example one of the Noto CJK font packages); the system's fonts, asked
through fontconfig (`fc-match :lang=zh-cn`), then the usual places on Debian, Fedora,
Alpine, macOS and Windows. A candidate counts only if it really maps the characters the
cards print, so a Latin-only fallback is never taken for a Chinese font. With none found,
`FontNotFound` says what to install.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import shutil
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path

from fontTools.ttLib import (  # type: ignore[import-untyped]  # fontTools has no stubs
    TTCollection,
    TTFont,
    TTLibError,
)

from pos.errors import ConfigError

# Every Chinese character the card labels use must be in the font.
SAMPLE = "券有效期手动码余额次元可用商户已更换取消"

_SYSTEM_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")


class FontNotFound(ConfigError):
    """No font that can draw Chinese was found."""


@dataclasses.dataclass(frozen=True)
class FontFace:
    path: Path
    index: int  # the face within a collection (.ttc); 0 for a single font
    family: str


def _faces(path: Path) -> Generator[tuple[int, TTFont], None, None]:
    """Each face of a font file; the file is closed when the caller stops iterating."""
    try:
        if path.suffix.lower() in (".ttc", ".otc"):
            with TTCollection(str(path), lazy=True) as collection:
                yield from enumerate(collection.fonts)
        else:
            with TTFont(str(path), lazy=True) as font:
                yield 0, font
    except (OSError, TTLibError, AssertionError):
        return


def _family(font: TTFont) -> str:
    name = font["name"].getDebugName(1)
    return name or "?"


def usable_face(path: Path, prefer_index: int | None = None) -> FontFace | None:
    """The face of `path` that maps every sample character, preferring Simplified Chinese
    (the "SC" face of a Noto CJK collection)."""
    if not path.is_file():
        return None
    best: FontFace | None = None
    faces = _faces(path)
    try:
        for index, font in faces:
            try:
                cmap = font.getBestCmap() or {}
            except (KeyError, TTLibError, AssertionError):
                continue
            if not all(ord(ch) in cmap for ch in SAMPLE):
                continue
            face = FontFace(path, index, _family(font))
            if index == prefer_index or face.family.endswith(" SC"):
                return face
            best = best or face
    finally:
        faces.close()  # closes the font file now, not when garbage is collected
    return best


def _from_packages() -> Iterator[Path]:
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            name = file.name.lower()
            if name.endswith(_FONT_SUFFIXES) and ("cjk" in name or "sc" in name
                                                  or "hei" in name or "song" in name):
                yield Path(str(dist.locate_file(file)))


def _from_fontconfig() -> Iterator[tuple[Path, int]]:
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return
    try:
        out = subprocess.run(  # noqa: S603 - a fixed program, no shell, no user input
            [fc_match, "-f", "%{file}|%{index}", "sans-serif:lang=zh-cn"],
            capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return
    file, _, index = out.partition("|")
    if file:
        yield Path(file), int(index) if index.isdigit() else 0


@functools.cache
def find_cjk_font(configured: str = "") -> FontFace:
    """A font face that draws the card's Chinese, or `FontNotFound` saying what to do."""
    if configured:
        face = usable_face(Path(configured).expanduser())
        if face is None:
            raise FontNotFound(
                f"the configured font {configured} is missing or cannot draw Chinese")
        return face
    for path in _from_packages():
        face = usable_face(path)
        if face is not None:
            return face
    for path, index in _from_fontconfig():
        face = usable_face(path, index)
        if face is not None:
            return face
    for name in _SYSTEM_PATHS:
        face = usable_face(Path(name))
        if face is not None:
            return face
    raise FontNotFound(
        "no font that can draw Chinese was found for voucher cards. Install one (on "
        "Debian/Ubuntu: apt-get install fonts-noto-cjk) or set [vouchers] font_path "
        "(POS_VOUCHERS_FONT_PATH) to a .ttf/.otf/.ttc file with Chinese characters.")
