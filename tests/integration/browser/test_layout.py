"""Every page of the navigation in real headless Chromium, at a desktop's and a phone's width:
nothing scrolls the page sideways at 390 px, axe-core (from the axe-playwright-python wheel, no
network) finds no serious or critical violation, and no answer is a 404 (the favicon included).
Then the forms: a new API key shown once with a copy button, a reload making no second key, a
removal that asks first; and the API docs rendering the OpenAPI document from local files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import func, select

from mutt_app.access import api_keys, users
from mutt_app.dead_letters import dlq
from mutt_app.rules import host_store, rule_store
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ApiKey, DevelopmentHost
from tests.integration.browser.conftest import log_in, require_chromium
from tests.support.processes import mutt_env, start_web

pytestmark = [pytest.mark.integration, pytest.mark.browser]

_ROOT = Path(__file__).resolve().parents[3]
IMAGES = _ROOT / ("docs/images" if os.environ.get("MUTT_UPDATE_SCREENSHOTS") == "1" else "reports/screenshots")
PASSWORD = "browser layout passphrase"
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
SERIOUS = ("serious", "critical")


def some_of_everything() -> None:
    """A row in every table, long words included: what makes a page wide on a phone."""
    with session_scope() as session:
        users.create(session, "root", PASSWORD, "admin", actor="test")
        api_keys.create(session, "rsyslog-site-a-with-a-rather-long-name", ["ingest", "read"], actor="test")
        rule_store.create_rule(session, {"name": "BGP neighbour down", "match_type": "contains", "match_string": "%BGP-5-ADJCHANGE",
                                         "priority": 20, "prod_handling": "Page_and_ticket", "dev_handling": "Ignore",
                                         "team_assignment": "NETO"}, actor="test")
        rule_store.create_rule(session, {"name": "disabled", "match_type": "contains", "match_string": "x", "priority": 30,
                                         "prod_handling": "Ignore", "dev_handling": "Ignore", "team_assignment": "NETO",
                                         "is_active": False}, actor="test")
        host_store.add_dev_host(session, "lab-switch-01.example.net", actor="test")
        host_store.set_team(session, "core-router-01.example.net", "CORE", actor="test")
        dlq.record(session, dlq.EVENT, "e" * 32, dlq.PROCESSING_FAILED, error="database was down " * 5,
                   payload={"hostname": "edge-1", "message": "%LINK-3-UPDOWN: Interface GigabitEthernet0/0/1 down"})


@pytest.fixture
def web(redis, pg_url, tmp_path):
    from tests.conftest import REDIS_URL

    require_chromium()
    some_of_everything()
    process, url = start_web(mutt_env(REDIS_URL, pg_url, tmp_path / "home"), tmp_path, workers=1)
    yield url
    process.stop()




# Swagger UI's operation headers put a copy button inside the expanding button: its markup, not
# MUTT's, and the one axe finding this suite lets pass (on /api/docs only).
SWAGGER_UI_OWN = {"nested-interactive"}


def serious_violations(page, allowed: set[str] = frozenset()) -> list[str]:
    results = Axe().run(page).response
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in results["violations"] if v["impact"] in SERIOUS and v["id"] not in allowed]


def test_every_navigation_page_fits_a_phone_and_passes_axe(web, page):
    url = web
    failures = []
    page.on("response", lambda response: failures.append(f"{response.status} {response.url}") if response.status >= 400 else None)
    log_in(page, url, "root", PASSWORD)
    paths = page.eval_on_selector_all("nav > a[href^='/']:not(.brand)", "links => links.map(a => a.getAttribute('href'))")
    assert {"/", "/rules", "/events", "/dead-letters", "/api-keys", "/users", "/api/docs"} <= set(paths)
    problems = {}
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        for path in paths:
            page.goto(url + path)
            if path == "/api/docs":
                page.wait_for_selector(".opblock")
            marked = page.locator("nav a[aria-current=page]")
            current = marked.first.get_attribute("href") if marked.count() else None
            wide = page.evaluate("document.documentElement.scrollWidth")
            found = serious_violations(page, SWAGGER_UI_OWN if path == "/api/docs" else set())
            if current != path or wide > viewport["width"] or found:
                problems[f"{viewport['width']} {path}"] = {"marked": current, "scrollWidth": wide, "axe": found}
        page.goto(url + "/rules")
        page.screenshot(path=str(IMAGES / f"rules-{viewport['width']}.png"), full_page=True)
    assert problems == {}, json.dumps(problems, indent=1)
    assert failures == []  # no 404: not the favicon, not an asset of the API docs


def test_skip_link_is_the_first_stop_and_leads_to_the_content(web, page):
    log_in(page, web, "root", PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def key_count() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(ApiKey))


def test_a_new_key_is_shown_once_copied_and_a_reload_makes_no_second(web, page):
    url = web
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, url, "root", PASSWORD)
    before = key_count()
    page.goto(url + "/api-keys")
    page.fill("input[name=name]", "sender-b")
    page.click("text=Create key")
    page.wait_for_url(url + "/api-keys#new-key")
    secret = page.inner_text("#new-key")
    page.click("button[data-copy=new-key]")
    page.wait_for_selector("button[data-copy=new-key]:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "api-key-created.png"))
    page.reload()
    assert page.locator("#new-key").count() == 0 and secret not in page.content()
    assert key_count() == before + 1


def test_removing_a_dev_host_asks_first(web, page):
    url = web
    log_in(page, url, "root", PASSWORD)
    questions = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.goto(url + "/dev-hosts")
    page.click("tr:has-text('lab-switch-01.example.net') button:has-text('remove')")
    page.wait_for_timeout(300)
    assert questions == ["Remove lab-switch-01.example.net from the development hosts? Its events will be handled as production."]
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(DevelopmentHost)) == 1


def test_the_api_docs_render_the_openapi_document_offline(web, page):
    url = web
    blocked, outside = [], []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith((url, "data:")) else None)
    page.goto(url + "/api/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock-summary-path", has_text="/api/v2/rules").count() >= 1
    assert page.locator(".info .title", has_text="MUTT").count() == 1
    assert blocked == [] and outside == []
    page.screenshot(path=str(IMAGES / "api-docs.png"))
