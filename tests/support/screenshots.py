"""Real screenshots for the screenshot-check tests: HTML rendered by headless Chromium.

A price card whose text can change, a clock that changes on every render, and an
anti-aliased diagonal line whose position can move: what a CI visual-regression check meets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS

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


def dashboard_html(price: str = "$49.99", clock: str = "10:41:07") -> str:
    """A full-HD page of 48 product cards (text, borders, a chart line each): what a CI check
    of a web page meets; the first card shows ``price`` and the header ``clock``."""
    cards = []
    for index in range(48):
        row, column = divmod(index, 8)
        shown = price if index == 0 else f"${(index * 7.31) % 90 + 9:.2f}"
        cards.append(
            f'<div class="card" style="left:{24 + column * 236}px;top:{110 + row * 160}px">'
            f"<b>Product {index + 1}</b><span>{shown}</span>"
            f'<svg width="200" height="50"><polyline fill="none" stroke="#37c" '
            f'stroke-width="1.5" points="0,{40 - index % 9 * 3} 50,{20 + index % 5 * 4} '
            f'100,{30 - index % 7 * 2} 150,{10 + index % 4 * 6} 200,{25}"/></svg></div>'
        )
    return f"""<!doctype html><html><head><style>
body {{ margin: 0; background: #f4f6f8; font: 15px sans-serif; color: #222; }}
header {{ height: 80px; background: #123; color: #fff; font-size: 28px; padding: 20px 24px;
          box-sizing: border-box; }}
#clock {{ position: absolute; right: 40px; top: 24px; color: #9cf; font: 24px monospace; }}
.card {{ position: absolute; width: 212px; height: 140px; background: #fff; border-radius: 8px;
         border: 1px solid #ccd; padding: 10px; box-sizing: border-box; }}
.card span {{ display: block; color: #a00; font-size: 22px; margin: 6px 0; }}
</style></head><body><header>Catalogue</header><div id="clock">{clock}</div>
{"".join(cards)}</body></html>"""


def render(browser: Browser, html: str, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """The page as a PNG screenshot of ``width`` x ``height`` pixels."""
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
    try:
        page.set_content(html)
        return page.screenshot(type="png")
    finally:
        page.close()
