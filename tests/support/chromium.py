"""Debian's Chromium, as Playwright drives it for the browser tests and the screenshots."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("ISC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
