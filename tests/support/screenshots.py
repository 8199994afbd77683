"""Real screenshots for the screenshot-check tests: HTML rendered by headless Chromium.

A price card whose text can change, a clock that changes on every render, and an
anti-aliased diagonal line whose position can move: what a CI visual-regression check meets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

WIDTH, HEIGHT = 480, 320
CLOCK_BOX = (300, 20, 160, 40)
"""x, y, w, h of the clock in the page (CSS pixels = image pixels at scale 1)."""


def card_html(price: str = "$49.99", clock: str = "10:41:07", line_shift: float = 0.0) -> str:
    """A product card: a title, a price, a clock at ``CLOCK_BOX`` and a thin diagonal line
    (SVG, anti-aliased) moved down by ``line_shift`` pixels."""
    x, y, w, h = CLOCK_BOX
    y1, y2 = 250 + line_shift, 290 + line_shift
    return f"""<!doctype html><html><head><style>
body {{ margin: 0; background: #fff; font: 16px sans-serif; color: #222; }}
#clock {{ position: absolute; left: {x}px; top: {y}px; width: {w}px; height: {h}px;
          font: 24px monospace; color: #036; }}
#title {{ position: absolute; left: 20px; top: 80px; font-size: 22px; }}
#price {{ position: absolute; left: 20px; top: 130px; font-size: 28px; color: #a00; }}
svg {{ position: absolute; left: 0; top: 0; }}
</style></head><body>
<div id="clock">{clock}</div>
<div id="title">Wireless headphones</div>
<div id="price">{price}</div>
<svg width="{WIDTH}" height="{HEIGHT}"><line x1="20" y1="{y1}" x2="460" y2="{y2}"
 stroke="#333" stroke-width="1.5"/></svg>
</body></html>"""


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, as the browser tests launch it."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def render(browser: Browser, html: str) -> bytes:
    """The page as a PNG screenshot of ``WIDTH`` x ``HEIGHT`` pixels."""
    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
    try:
        page.set_content(html)
        return page.screenshot(type="png")
    finally:
        page.close()
