"""A real headless Chromium (Debian's), driven by Playwright, against the real service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.support.paths import REPO

OUTPUT = REPO / "test-output"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; JavaScript errors on it fail the test."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "status of 4" not in message.text:
            problems.append(f"console error: {message.text}")

    opened.on("console", on_console)
    yield opened
    context.close()
    assert not problems, problems


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT
