"""Every list's time-range picker: the last 15 min, 1 hour, 24 hours, 7 days, or any time."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mutt_app.storage import db
from mutt_app.storage.models import ConfigAudit, EventAudit
from tests.support.alert_states import add_alert
from tests.support.recovery import event_letter


def add_event(hostname: str, at: datetime) -> None:
    with db.session_scope() as session:
        session.add(EventAudit(event_id=uuid.uuid4().hex, received_at=at, event_time=at, hostname=hostname, rule_id=None,
                               rule_name="", environment="prod", decision="unhandled", forwarded=False, team="",
                               correlation_id="c", event={"hostname": hostname, "message": "link down"}))


def add_alert_seen(hostname: str, at: datetime) -> None:
    add_alert(hostname, first_seen=at, last_seen=at, changed_at=at)


def add_dead_letter(hostname: str, at: datetime) -> None:
    with db.session_scope() as session:
        event_letter(session, event_id=uuid.uuid4().hex, hostname=hostname).last_failed_at = at


def add_change(hostname: str, at: datetime) -> None:
    with db.session_scope() as session:
        session.add(ConfigAudit(changed_at=at, changed_by=hostname, operation="UPDATE", table_name="rules",
                                record_id="1", reason=""))


PAGES = [("/events", add_event), ("/alerts", add_alert_seen), ("/dead-letters", add_dead_letter),
         ("/config-audit", add_change)]


@pytest.mark.parametrize("path, add", PAGES, ids=[path for path, _ in PAGES])
def test_the_last_hour_shows_what_happened_in_it_and_any_time_shows_all(viewer, path, add):
    now = datetime.now(UTC)
    add("recent-one", now - timedelta(minutes=20))
    add("older-one", now - timedelta(hours=3))
    everything = viewer.get(path).get_data(as_text=True)
    assert "recent-one" in everything and "older-one" in everything
    assert re.search(r'<a href="[^"]*"\s+aria-current="true">any time</a>', everything)

    last_hour = viewer.get(path + "?since=1h").get_data(as_text=True)
    assert "recent-one" in last_hour and "older-one" not in last_hour
    assert re.search(r'since=1h"\s+aria-current="true">1 hour</a>', last_hour)
    assert '<input type="hidden" name="since" value="1h">' in last_hour, "the filters form keeps the range"
    assert "older-one" in viewer.get(path + "?since=24h").get_data(as_text=True)
    assert "recent-one" not in viewer.get(path + "?since=15m").get_data(as_text=True)


@pytest.mark.parametrize("path", [path for path, _ in PAGES])
def test_the_picker_keeps_the_other_filters_and_goes_back_to_the_first_page(viewer, path):
    html = viewer.get(path + "?host=edge&since=7d&page=3&cursor=x").get_data(as_text=True)
    links = dict((text, href) for href, text in re.findall(r'<a href="([^"]*)"[^>]*>(15 min|1 hour|24 hours|7 days|any time)</a>', html))
    assert set(links) == {"15 min", "1 hour", "24 hours", "7 days", "any time"}
    for text, href in links.items():
        assert "page=" not in href and "cursor=" not in href, text
    if path in ("/events", "/alerts"):
        assert "host=edge" in links["24 hours"] and "host=edge" in links["any time"]
    assert "since=" not in links["any time"] and "since=15m" in links["15 min"]


@pytest.mark.parametrize("path", [path for path, _ in PAGES])
def test_an_unknown_range_is_said_not_a_500(viewer, path):
    response = viewer.get(path + "?since=3w")
    assert response.status_code == 200
    assert "since must be one of 15m, 1h, 24h, 7d, got &#39;3w&#39;" in response.get_data(as_text=True)
