"""The event search in real headless Chromium at a desktop's and a phone's width: an operator
finds an unhandled event by part of its host, a word of its message, its decision and "the last
hour"; times show relative and in the browser's zone with the exact UTC time on hover (mutt.js);
the dead-lettered events are one choice away; the page fits the phone and passes axe-core.
Saves the screenshots docs/web-ui.md shows (events.png, events-phone.png)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from mutt_app.access import users
from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import EventAudit
from tests.integration.browser.conftest import IMAGES, log_in, require_chromium
from tests.integration.browser.test_layout import DESKTOP, PHONE, serious_violations
from tests.support.processes import mutt_env, start_web

pytestmark = [pytest.mark.integration, pytest.mark.browser]
PASSWORD = "browser event search passphrase"
NOW = datetime.now(UTC)


def audit(event_id: str, hostname: str, message: str, decision: str, minutes_ago: int) -> EventAudit:
    matched = decision != "unhandled"
    return EventAudit(event_id=event_id, received_at=NOW - timedelta(minutes=minutes_ago), event_time=None,
                      hostname=hostname, rule_id=1 if matched else None, rule_name="Link down" if matched else "",
                      environment="prod", decision=decision, forwarded=decision == "Page_and_ticket",
                      team="NETO" if matched else "", correlation_id=f"corr-{event_id}",
                      event={"hostname": hostname, "message": message})


@pytest.fixture
def web(redis, pg_url, tmp_path):
    from tests.conftest import REDIS_URL

    require_chromium()
    with session_scope() as session:
        users.create(session, "oncall", PASSWORD, "viewer", actor="test")
        session.add_all([
            audit("e1", "core-router-01.dc1.example.net", "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
                  "Page_and_ticket", 3),
            audit("e2", "edge-fw-02.branch.example.net", "%ASA-4-411001: fan tray 2 failed", "unhandled", 20),
            audit("e3", "edge-fw-03.branch.example.net", "%ASA-4-411001: fan tray 1 failed", "unhandled", 60 * 3),
            audit("e4", "edge-fw-02.branch.example.net", "%ASA-4-411001: fan tray 2 failed", "duplicate", 10),
        ])
        dlq.record(session, dlq.EVENT, "d" * 32, dlq.SHED, error="shed: 9000 alerts waiting for Moogsoft",
                   payload={"hostname": "edge-fw-02.branch.example.net", "message": "fan tray 2 failed"})
    process, url = start_web(mutt_env(REDIS_URL, pg_url, tmp_path / "home"), tmp_path, workers=1)
    yield url
    process.stop()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440", "390"])
def test_an_unhandled_event_is_found_by_host_words_decision_and_the_last_hour(web, page, viewport):
    page.set_viewport_size(viewport)
    log_in(page, web, "oncall", PASSWORD)
    page.goto(web + "/events")
    assert page.locator("table.rows tr", has_text="edge-fw-03").count() == 1   # unhandled events are listed
    page.get_by_role("group", name="Time range").get_by_role("link", name="1 hour").click()
    page.wait_for_url("**/events?since=1h")
    page.fill("input[name=host]", "FW-02")
    page.fill("input[name=q]", "fan failed")
    page.select_option("select[name=decision]", "unhandled")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/events?*since=1h*")
    rows = page.locator("table.rows tr", has_text="edge-fw-02")
    assert rows.count() == 1 and "unhandled" in rows.inner_text() and "fan tray 2 failed" in rows.inner_text()
    assert page.locator("table.rows tr", has_text="edge-fw-03").count() == 0

    when = rows.locator("time")
    ago = re.match(r"(\d+) min ago · ", when.inner_text())            # relative, then local time
    assert ago and 20 <= int(ago.group(1)) < 60, when.inner_text()     # seeded 20 min before the test, within the hour
    assert when.get_attribute("title").endswith(" UTC")               # the exact UTC time on hover
    assert when.get_attribute("title").startswith((NOW - timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M"))

    page.select_option("select[name=decision]", "dead_lettered")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**decision=dead_lettered*")
    letter = page.locator("table.rows tr", has_text="edge-fw-02")
    assert letter.count() == 1 and "shed" in letter.inner_text()
    letter.get_by_role("link", name="dead letter").first.click()
    page.wait_for_url("**/dead-letters/*")

    page.goto(web + "/events?host=fw-02&since=1h")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= viewport["width"], f"/events scrolls sideways: {width} px wide"
    assert serious_violations(page) == []
    page.screenshot(path=str(IMAGES / ("events.png" if viewport is DESKTOP else "events-phone.png")), full_page=True)
