"""Headless Chromium for the browser tests: Debian's binary driven by Playwright (no browser
download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def serving_web(pg_url: str, tmp_path: Path, user: tuple[str, str, str]) -> Iterator[str]:
    """`mutt web` (one process) on the test's Redis and PostgreSQL, with ``user`` (name,
    password, role) to log in as; yields its URL."""
    from mutt_app.access import users
    from mutt_app.storage.db import session_scope
    from tests.conftest import REDIS_URL
    from tests.support.processes import mutt_env, start_web

    require_chromium()
    name, password, role = user
    with session_scope() as session:
        users.create(session, name, password, role, actor="test")
    process, url = start_web(mutt_env(REDIS_URL, pg_url, tmp_path / "home"), tmp_path, workers=1)
    try:
        yield url
    finally:
        process.stop()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.set_default_timeout(15_000)
        yield tab
        browser.close()
