"""The Silences page in headless Chromium at phone width (375 px): an operator silences a host
from the page, and nothing on the page is wider than the screen (the table scrolls inside)."""

from __future__ import annotations

import pytest

from mutt_app.access import users
from mutt_app.storage.db import session_scope
from mutt_app.suppression import silence_store
from tests.integration.browser.conftest import require_chromium
from tests.support.fixtures import stack_of

PASSWORD = "browser test passphrase"
PHONE = {"width": 375, "height": 740}


def operator(_redis) -> dict:
    require_chromium()
    with session_scope() as session:
        users.create(session, "ada", PASSWORD, "operator", actor="test")
    return {}


pytestmark = [pytest.mark.integration, pytest.mark.browser,
              stack_of("silences-page", web_workers=1, workers=0, standin=False, prepare=operator)]


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_silence_a_host_on_a_phone(stack, page):
    page.set_viewport_size(PHONE)
    page.goto(stack.url + "/silences?host=core-rtr-01")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/silences?host=core-rtr-01")
    assert page.input_value("input[name=hostname]") == "core-rtr-01"
    assert page_width(page) <= PHONE["width"]
    page.fill("input[name=comment]", "line card swap")
    page.click("#new-silence button[type=submit]")
    page.wait_for_selector("text=Silence 1: active.")
    assert "line card swap" in page.inner_text("#silence-1")
    assert page_width(page) <= PHONE["width"], "the table scrolls inside its box, the page does not"
    page.goto(stack.url + "/")
    assert page.inner_text("#active-silences") == "1"
    assert page_width(page) <= PHONE["width"], "the dashboard's tables scroll inside their sections"
    with session_scope() as session:
        assert [row.created_by for row in silence_store.list_silences(session)] == ["user:ada"]
