"""Files that carry tokens, manual codes or payment data (voucher lists, card sheets,
settlement exports) are created readable and writable by the service's user only.

Created with mode 0600 from the start (never written first and narrowed afterwards, which
leaves a moment when anyone may open them), and narrowed as well when the file existed
already with a wider mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

MODE = 0o600


def open_private(path: Path, mode: str = "wb", **kwargs: Any) -> IO[Any]:
    """Open `path` for writing (truncated), readable by its owner only."""
    if "r" in mode or "a" in mode or "+" in mode:
        raise ValueError("open_private only writes whole files")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, MODE)
    try:
        os.fchmod(fd, MODE)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise
