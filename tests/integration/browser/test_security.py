"""The console's defences in real headless Chromium against `mutt web` (granian):

- an API key named like a script is shown as text, and clicking Revoke asks the plain question
  (no script of the name runs; the Content-Security-Policy blocks nothing MUTT's pages need);
- a session cookie captured before logout is refused when replayed after it.
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from mutt_app.access import api_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ApiKey
from tests.integration.browser.conftest import log_in, serving_web

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PASSWORD = "browser security passphrase"
EVIL_NAME = "'+alert(document.domain)+'"
PAGES = ["/", "/alerts", "/rules", "/rules/new", "/dev-hosts", "/teams", "/events", "/config-audit", "/dead-letters",
         "/settings", "/api-keys", "/users", "/password"]


@pytest.fixture
def web(redis, pg_url, tmp_path):
    with serving_web(pg_url, tmp_path, ("root", PASSWORD, "admin")) as url:
        yield url




def key_revoked(name: str) -> bool:
    with session_scope() as session:
        return session.scalar(select(ApiKey.revoked_at).where(ApiKey.name == name)) is not None


def test_a_script_named_key_is_text_and_revoke_only_asks(web, page):
    url = web
    with session_scope() as session:
        api_keys.create(session, EVIL_NAME, ["ingest"], actor="test")
    dialogs, violations = [], []
    answer = {"accept": False}

    def on_dialog(dialog):
        dialogs.append((dialog.type, dialog.message))
        dialog.accept() if answer["accept"] else dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    log_in(page, url, "root", PASSWORD)

    response = page.goto(url + "/api-keys")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    row = page.locator("table.rows tr", has_text="alert(document.domain)")
    assert row.locator("td").first.inner_text() == EVIL_NAME  # shown as the text it is

    row.locator("button", has_text="Revoke").click()  # Cancel: nothing is sent
    page.wait_for_timeout(500)
    assert dialogs == [("confirm", f"Revoke key {EVIL_NAME}?")]
    assert not key_revoked(EVIL_NAME)

    answer["accept"] = True
    row.locator("button", has_text="Revoke").click()
    page.wait_for_selector("text=revoked.")
    assert dialogs == [("confirm", f"Revoke key {EVIL_NAME}?")] * 2  # never an alert(): the name never ran
    assert key_revoked(EVIL_NAME)

    for path in PAGES:
        assert page.goto(url + path).status == 200, path
    assert violations == []  # every page works under the policy (no inline script or style to block)
    assert dialogs == [("confirm", f"Revoke key {EVIL_NAME}?")] * 2


def test_a_cookie_captured_before_logout_is_refused_after_it(web, page):
    url = web
    log_in(page, url, "root", PASSWORD)
    captured = {c["name"]: c["value"] for c in page.context.cookies()}["session"]
    # the same browser identity (session protection ties a session to address and user agent)
    replay = {"User-Agent": page.evaluate("navigator.userAgent")}

    before = requests.get(url + "/settings", cookies={"session": captured}, headers=replay, timeout=10, allow_redirects=False)
    assert before.status_code == 200 and "Runtime settings" in before.text  # the copy works while logged in

    page.click("nav button:has-text('log out')")
    page.wait_for_url(url + "/login")
    after = requests.get(url + "/settings", cookies={"session": captured}, headers=replay, timeout=10, allow_redirects=False)
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    api = requests.get(url + "/api/v2/users", cookies={"session": captured}, headers=replay, timeout=10)
    assert api.status_code == 401
