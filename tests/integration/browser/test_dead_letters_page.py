"""Dead letters in bulk and event outcomes in real headless Chromium against `mutt web` on
PostgreSQL, at a desktop's (1440x900) and a phone's (390x844) width: filter, tick every row with
the header's box, purge (asked first: Cancel does nothing), back at the filtered list; a refused
replay keeps the typed reason; the event audit's outcome links an event to its dead letter. Saves
the screenshots docs/web-ui.md shows (see IMAGES)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import DeadLetter
from tests.integration.browser.conftest import IMAGES, log_in, serving_web
from tests.support.alert_states import add_alert, audit_event
from tests.support.alerts import insert_alerts
from tests.support.recovery import event_letter

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PASSWORD = "browser dead letters passphrase"
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture
def web(redis, pg_url, tmp_path):
    with serving_web(pg_url, tmp_path, ("otto", PASSWORD, "operator")) as url:
        yield url


def count(**where) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(DeadLetter).filter_by(**where)) or 0


def test_filter_tick_all_and_purge_then_a_refusal_keeps_the_reason(web, page):
    url = web
    with session_scope() as session:
        for n in range(3):
            event_letter(session, f"shed-{n}", dlq.SHED, hostname=f"edge-rtr{n}.dc1",
                         message=f"%LINK-3-UPDOWN: Interface GigabitEthernet0/0/{n}, changed state to down")
        event_letter(session, "failed-0", dlq.PROCESSING_FAILED, hostname="core-sw1.dc1")
    log_in(page, url, "otto", PASSWORD)
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        page.goto(url + "/dead-letters")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]  # the table scrolls inside
        assert page.locator("#bulk-purge").is_visible() and page.locator("#bulk-replay").is_visible()
    page.screenshot(path=str(IMAGES / "dead-letters-390.png"), full_page=True)

    page.set_viewport_size(DESKTOP)
    page.goto(url + "/dead-letters?reason=shed")
    assert page.locator("td", has_text="edge-rtr1.dc1").count() == 1
    assert page.locator("td", has_text="GigabitEthernet0/0/2").count() == 1
    page.check("input[data-select-all=ids]")
    assert page.locator("input[name=ids]:checked").count() == 3
    page.fill("#bulk-reason", "flood during CHG-42")
    page.screenshot(path=str(IMAGES / "dead-letters.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.dismiss())  # Cancel: nothing is sent
    page.click("#bulk-purge")
    assert count() == 4
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#bulk-purge")
    page.wait_for_url(url + "/dead-letters?reason=shed")
    assert page.locator(".flash", has_text="Purged 3 dead letters.").is_visible()
    assert (count(), count(reason="processing_failed")) == (1, 1)

    page.set_viewport_size(PHONE)
    page.goto(url + "/dead-letters")
    page.fill("#bulk-reason", "database is back")
    page.click("#bulk-replay")                       # nothing ticked: refused
    assert page.locator(".flash.error", has_text="Nothing selected").is_visible()
    assert page.input_value("#bulk-reason") == "database is back"
    page.check("input[name=ids]")
    page.click("#bulk-replay")
    page.wait_for_url(url + "/dead-letters?page=1")  # back to the list the refusal showed
    assert page.locator(".flash", has_text="Replayed 1 dead letter.").is_visible()
    assert count(state="replayed") == 1


def test_the_event_audit_links_a_forwarded_event_to_its_dead_letter(web, page):
    url = web
    alert = add_alert("edge-rtr9.dc1")
    dead = audit_event(alert_id=alert)
    insert_alerts(1, id=dead, state="dead", attempts=8, last_status=503)
    with session_scope() as session:
        dlq.record(session, dlq.ALERT, dead, dlq.RETRIES_EXHAUSTED, last_status=503, attempts=8,
                   payload={"hostname": "edge-rtr9.dc1", "description": "link down"})
    with session_scope() as session:
        letter_id = session.scalar(select(DeadLetter.id))
    log_in(page, url, "otto", PASSWORD)
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        page.goto(url + "/events")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        outcome = page.locator("[data-outcome=dead_letter] a")
        assert outcome.inner_text() == f"dead letter {letter_id} (retries_exhausted, HTTP 503)"
        if viewport is DESKTOP:
            page.screenshot(path=str(IMAGES / "event-outcome.png"))
    outcome.click()
    page.wait_for_url(url + f"/dead-letters/{letter_id}")
    assert page.locator("h1").inner_text() == f"Dead letter {letter_id}"
