"""The event search through the API (GET /api/v2/audit-logs) and the UI (/events): each filter,
and a bad filter answered 400 with its message (the UI: the message on the page), never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import EventAudit
from tests.support.web import admin_key

NOW = datetime.now(UTC)
BAD = [("since=2h", "since must be one of 15m, 1h, 24h, 7d"),
       ("host_match=middle", "host_match must be one of contains, prefix"),
       ("host=" + "x" * 300, "host must be at most 255 characters"),
       ("q=" + "w" * 201, "q must be at most 200 characters"),
       ("limit=500", "limit"), ("start=yesterday", "start must be an ISO 8601")]


def add_events():
    def row(event_id, hostname, message, decision, minutes_ago):
        return EventAudit(event_id=event_id, received_at=NOW - timedelta(minutes=minutes_ago), event_time=None,
                          hostname=hostname, rule_id=None if decision == "unhandled" else 1,
                          rule_name="" if decision == "unhandled" else "Link down", environment="prod",
                          decision=decision, forwarded=decision == "Page_and_ticket", team="NetOps",
                          correlation_id=f"c-{event_id}", event={"hostname": hostname, "message": message})

    with session_scope() as session:
        session.add_all([
            row("e1", "core-router-01.dc1", "LINK-3-UPDOWN Gi0/1 changed state to down", "Page_and_ticket", 2),
            row("e2", "edge-sw-07.branch", "fan tray 2 failed", "unhandled", 40),
            row("e3", "edge-sw-08.branch", "fan tray 1 ok", "unhandled", 60 * 5),
        ])
        dlq.record_many(session, dlq.EVENT, dlq.SHED, [("d1", {"hostname": "edge-sw-09.branch", "message": "fan"}, "shed")],
                        attempts=1)


@pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)
def test_the_api_finds_events_by_each_filter(api):
    add_events()
    key = {"X-API-KEY": admin_key(("read",))}

    def ids(query):
        response = api.get("/api/v2/audit-logs?" + query, headers=key)
        assert response.status_code == 200, response.json
        return sorted(row["event_id"] for row in response.json["logs"])

    assert ids("") == ["e1", "e2", "e3"]
    assert ids("host=EDGE-SW") == ["e2", "e3"]
    assert ids("host=edge&host_match=prefix") == ["e2", "e3"]
    assert ids("host=sw-07&host_match=prefix") == []
    assert ids("q=FAN+failed") == ["e2"]
    assert ids("decision=UNHANDLED") == ["e2", "e3"]
    assert ids("since=15m") == ["e1"]
    assert ids("since=1h&decision=unhandled") == ["e2"]
    assert ids("decision=dead_lettered&host=sw-09") == ["d1"]
    assert api.get("/api/v1/audit-logs", headers=key).json["pagination"]["total"] == 1   # v2.5: matched events
    for query, message in BAD:
        response = api.get("/api/v2/audit-logs?" + query, headers=key)
        assert response.status_code == 400 and message in response.json["error"], (query, response.json)


def test_the_events_page_filters_and_shows_times_for_the_browser(viewer):
    add_events()
    html = viewer.get("/events?host=edge&q=fan&decision=Unhandled&since=1h").get_data(as_text=True)
    assert "edge-sw-07.branch" in html and "edge-sw-08.branch" not in html and "core-router-01" not in html
    assert 'since=1h" aria-current="true">1 hour</a>' in html and '<option value="unhandled" selected>' in html
    assert 'name="q" value="fan"' in html
    assert f'<time datetime="{(NOW - timedelta(minutes=40)).isoformat()}">' in html
    everything = viewer.get("/events").get_data(as_text=True)
    assert all(host in everything for host in ("core-router-01.dc1", "edge-sw-07.branch", "edge-sw-08.branch"))
    assert 'href="/dead-letters"' in everything
    letters = viewer.get("/events?decision=dead_lettered").get_data(as_text=True)
    assert "edge-sw-09.branch" in letters and "/dead-letters/" in letters and "shed" in letters


@pytest.mark.parametrize("query, message", BAD)
def test_a_bad_filter_on_the_events_page_is_said_not_a_500(viewer, query, message):
    response = viewer.get("/events?" + query)
    assert response.status_code == 200 and message in response.get_data(as_text=True)


def test_a_nul_character_in_a_search_is_refused_by_the_web_layer(viewer):
    response = viewer.get("/events?q=a%00b")
    assert response.status_code == 400 and "NUL characters are not accepted" in response.get_data(as_text=True)

