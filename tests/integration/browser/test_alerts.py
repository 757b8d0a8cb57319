"""The Alerts page in real headless Chromium against `mutt web` (granian) on PostgreSQL, on a
desktop (1440x900) and a phone (390x844): from the dashboard's tile to the open alerts, open
first with the flapping badge, to one alert's events and deliveries; on the phone the page does
not scroll sideways (the tables scroll inside themselves). Saves the screenshots docs/web-ui.md
shows (see IMAGES)."""

from __future__ import annotations

import pytest

from tests.integration.browser.conftest import IMAGES, log_in, serving_web
from tests.support.alert_states import add_alert, audit_events
from tests.support.alerts import insert_alerts

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PASSWORD = "browser alerts passphrase"
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture
def web(redis, pg_url, tmp_path):
    with serving_web(pg_url, tmp_path, ("olga", PASSWORD, "viewer")) as url:
        yield url


def some_alerts() -> int:
    """A morning's alerts; returns the id of the flapping one, which has events and deliveries."""
    add_alert("core-sw1.dc1", state="cleared", seen_minutes_ago=2, key="Te1/0/1", occurrences=3, severity=3)
    flapping = add_alert("edge-rtr2.dc1", seen_minutes_ago=4, key="Gi0/2", occurrences=17, flapping=True)
    add_alert("edge-rtr1.dc1", seen_minutes_ago=1, key="Gi0/1", occurrences=5)
    add_alert("ups-b.dc2", rule_id=12, seen_minutes_ago=30, key="battery", occurrences=1, severity=5,
              rule_name="UPS on battery", description="ups-b.dc2: UPS on battery power")
    add_alert("fw1.dc2", state="cleared", rule_id=3, seen_minutes_ago=95, key="ha", rule_name="HA failover", severity=2,
              description="fw1.dc2: HA state changed to standby")
    audit_events(flapping, 6, hostname="edge-rtr2.dc1")
    signature = "mutt:rule:7:edge-rtr2.dc1:Gi0/2"
    insert_alerts(1, signature=signature, state="delivered", attempts=1, last_status=202, severity=4)
    insert_alerts(1, signature=signature, state="delivered", attempts=1, last_status=202, severity=0)
    insert_alerts(1, signature=signature, state="pending", attempts=2, last_status=503, last_error="HTTP 503")
    return flapping




def test_operators_find_open_alerts_and_their_story_on_a_desktop_and_a_phone(web, page):
    url = web
    flapping = some_alerts()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    IMAGES.mkdir(parents=True, exist_ok=True)

    page.set_viewport_size(DESKTOP)
    log_in(page, url, "olga", PASSWORD)
    assert page.inner_text("#open-alerts") == "3" and page.inner_text("#flapping-alerts") == "1 flapping"
    page.click("#open-alerts")
    page.wait_for_url(url + "/alerts?state=open")
    assert page.locator("#alerts td.host").all_inner_texts() == ["edge-rtr1.dc1", "edge-rtr2.dc1", "ups-b.dc2"]

    page.goto(url + "/alerts")
    assert page.locator("#alerts td.host").all_inner_texts() == [
        "edge-rtr1.dc1", "edge-rtr2.dc1", "ups-b.dc2", "core-sw1.dc1", "fw1.dc2"]  # open first, then last seen
    badge = page.locator("#alerts tr", has_text="edge-rtr2.dc1").locator(".badge")
    assert badge.inner_text() == "flapping" and badge.is_visible()
    page.screenshot(path=str(IMAGES / "alerts.png"), full_page=True)

    occurrences = page.locator("#alerts th", has_text="Occurrences")
    occurrences.get_by_role("button").click()                                  # sorts the rows shown, fewest first
    assert page.locator("#alerts td.host").all_inner_texts() == [
        "ups-b.dc2", "fw1.dc2", "core-sw1.dc1", "edge-rtr1.dc1", "edge-rtr2.dc1"]
    assert occurrences.get_attribute("aria-sort") == "ascending"
    occurrences.get_by_role("button").click()                                  # and again, most first
    assert page.locator("#alerts td.host").all_inner_texts()[:2] == ["edge-rtr2.dc1", "edge-rtr1.dc1"]
    assert occurrences.get_attribute("aria-sort") == "descending"

    page.select_option("select[name=state]", "cleared")
    page.fill("input[name=host]", "FW*")
    page.click("text=Filter")
    assert page.locator("#alerts td.host").all_inner_texts() == ["fw1.dc2"]

    page.goto(url + "/alerts")
    page.click(f"a[href='/alerts/{flapping}']")
    assert "Events (newest 6 of 6)" in page.inner_text("main")
    assert page.locator("#events tr").count() == 7 and page.locator("#deliveries tr").count() == 4
    assert "0 Clear" in page.inner_text("#deliveries")

    page.set_viewport_size(PHONE)
    for path in ("/alerts", f"/alerts/{flapping}", "/"):
        page.goto(url + path)
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= PHONE["width"], f"{path} scrolls sideways on a phone ({page_width} px)"
    page.goto(url + "/alerts")
    # the table scrolls inside itself (on a phone a table is its own scroll box) or inside its box
    assert page.locator("#alerts").evaluate(
        "table => [table, table.parentElement].some(box => box.scrollWidth > box.clientWidth)")
    assert page.locator("#alerts tr", has_text="edge-rtr2.dc1").locator(".badge").is_visible()
    page.screenshot(path=str(IMAGES / "alerts-phone.png"), full_page=True)
    assert violations == []
