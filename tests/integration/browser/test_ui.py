"""The operators' console in real headless Chromium against the app under granian, with a
real Celery worker: log in, write a rule with the dry run, send an event through ingest, find
it in the audit search, replay a dead letter. Saves the screenshots docs/web-ui.md shows."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests
from sqlalchemy import select

from mutt_app.access import api_keys, users
from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import DeadLetter, EventAudit
from tests.integration.browser.conftest import IMAGES, require_chromium
from tests.support.fixtures import stack_of
from tests.support.processes import wait_until

PASSWORD = "browser test passphrase"


def operator_and_sender(_redis) -> dict:
    require_chromium()
    with session_scope() as session:
        users.create(session, "ada", PASSWORD, "operator", actor="test")
        _, key = api_keys.create(session, "browser-sender", ["ingest"], actor="test")
    return {"key": key}


pytestmark = [pytest.mark.integration, pytest.mark.browser,
              stack_of("console", web_workers=1, concurrency=1, prepare=operator_and_sender)]


def audited(hostname: str) -> list[EventAudit]:
    with session_scope() as session:
        return list(session.scalars(select(EventAudit).where(EventAudit.hostname == hostname)))


def test_operator_console_end_to_end(stack, page):
    url, key = stack.url, stack.prepared["key"]
    host = f"edge-{uuid.uuid4().hex[:6]}"

    # a wrong password is refused, the right one lands on the dashboard
    page.goto(url + "/rules")
    assert "/login" in page.url
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator("text=Wrong user name or password").is_visible()
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/rules")  # the validated next= brought us back

    # a new rule, tried on a sample event before saving
    page.click("#new-rule")
    page.fill("input[name=name]", "BGP neighbour down")
    page.fill("input[name=match_string]", "BGP-5-ADJCHANGE")
    page.fill("input[name=priority]", "20")
    page.select_option("select[name=prod_handling]", "Page_and_ticket")
    page.select_option("select[name=dev_handling]", "Ignore")
    page.fill("input[name=team_assignment]", "NETO")
    page.fill("input[name=reason]", "CHG-42")
    page.fill("textarea[name=sample]", json.dumps({"hostname": host, "message": "%BGP-5-ADJCHANGE: neighbor 10.0.0.2 Down"}))
    page.click("#dry-run")
    result = page.locator("#dry-run-result")
    assert "decision Page_and_ticket" in " ".join(result.inner_text().split())
    assert "This rule on its own matches the event and wins" in result.inner_text()
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "rule-editor.png"), full_page=True)
    page.click("#save")
    page.wait_for_url(re.compile(re.escape(url) + r"/rules#rule-\d+$"))  # back on the list, at the saved rule
    assert page.locator("table.rows td", has_text="BGP neighbour down").is_visible()

    # an event through the real ingest endpoint, processed by the real worker
    answer = requests.post(url + "/api/v2/ingest", headers={"X-API-KEY": key}, timeout=10,
                           json={"hostname": host, "timestamp": "2026-11-25T12:00:00Z", "syslog_severity": 5,
                                 "message": "%BGP-5-ADJCHANGE: neighbor 10.0.0.2 Down"})
    assert answer.status_code == 200, answer.text
    correlation_id = answer.json()["correlation_id"]
    wait_until(lambda: audited(host), timeout=60, message="the event audited by the worker")

    # found in the audit search by host, and by correlation id
    page.goto(f"{url}/events?host={host}")
    row = page.locator("table.rows tr", has_text=host)
    assert row.count() == 1 and "Page_and_ticket" in row.inner_text() and "BGP neighbour down" in row.inner_text()
    page.goto(url + "/events")
    page.fill("input[name=correlation_id]", correlation_id)
    page.click("text=Search")
    assert page.locator("table.rows tr", has_text=host).count() == 1

    # a dead letter, replayed from its page, ends audited too
    replay_host = host + "-dl"
    with session_scope() as session:
        event_id = uuid.uuid4().hex
        dlq.record(session, dlq.EVENT, event_id, dlq.PROCESSING_FAILED, error="database was down",
                   payload={"_id": event_id, "hostname": replay_host, "message": "%BGP-5-ADJCHANGE: neighbor 10.0.0.9 Down",
                            "timestamp": "2026-11-25T12:00:00+00:00", "_correlation_id": "replay-test",
                            "_received_at": "2026-11-25T12:00:00+00:00", "_source": "ingest"})
        letter_id = session.scalar(select(DeadLetter.id).where(DeadLetter.ref_id == event_id))
    page.goto(url + "/dead-letters")
    page.click(f"a[href='/dead-letters/{letter_id}']")
    assert "database was down" in page.inner_text("main")
    page.fill("form:has(#replay) input[name=reason]", "database is back")
    page.click("#replay")
    assert page.locator(f"text=Dead letter {letter_id} replayed.").is_visible()
    wait_until(lambda: audited(replay_host), timeout=60, message="the replayed event audited")
    with session_scope() as session:
        assert session.get(DeadLetter, letter_id).state == "replayed"

    page.goto(url + "/")
    assert page.locator(".card", has=page.get_by_role("heading", name="Now", exact=True)).is_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=str(IMAGES / "dashboard.png"), full_page=True)
