"""The till side: the tablet web app served at /till/, and a small Python terminal client."""

from __future__ import annotations

from pathlib import Path

TABLET_DIR = Path(__file__).resolve().parent / "tablet"
