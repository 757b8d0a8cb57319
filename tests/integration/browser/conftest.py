"""Headless Chromium for the browser tests: Debian's binary driven by Playwright (no browser
download)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# The screenshots the docs show are refreshed on request (MUTT_UPDATE_SCREENSHOTS=1); otherwise
# they go to reports/, so a test run leaves the work tree as it found it.
_ROOT = Path(__file__).resolve().parents[3]
IMAGES = _ROOT / ("docs/images" if os.environ.get("MUTT_UPDATE_SCREENSHOTS") == "1" else "reports/screenshots")


def log_in(page, url: str, username: str, password: str) -> None:
    """Log in through the login form, as a person would; ends on the dashboard."""
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium binary (apt-get install chromium)")


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.set_default_timeout(15_000)
        yield tab
        browser.close()
