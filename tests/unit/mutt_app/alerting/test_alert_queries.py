"""Where operators see alerts: filters, order, keyset pages, one alert with its events and deliveries
(SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest

from mutt_app.alerting import alert_queries
from mutt_app.alerting.alert_queries import AlertFilter
from mutt_app.errors import InvalidInput, NotFound
from mutt_app.storage.db import session_scope
from tests.support.alert_states import NOW, add_alert, audit_events
from tests.support.alerts import insert_alerts


def hosts(page) -> list[str]:
    return [alert["hostname"] for alert in page.alerts]


def search(**args):
    with session_scope() as session:
        return alert_queries.search(session, args)


def test_open_alerts_come_first_then_the_most_recently_seen(redis, database_url):
    add_alert("cleared-recently", state="cleared", seen_minutes_ago=1)
    add_alert("open-old", seen_minutes_ago=90)
    add_alert("open-new", seen_minutes_ago=5)
    add_alert("cleared-old", state="cleared", seen_minutes_ago=60)
    page = search()
    assert hosts(page) == ["open-new", "open-old", "cleared-recently", "cleared-old"]
    assert page.total == 4 and page.next_cursor is None


def test_filters_by_state_flapping_host_and_rule(redis, database_url):
    add_alert("Edge-1.dc1", rule_id=3)
    add_alert("edge-2.dc1", rule_id=4, flapping=True, flapping_since=NOW)
    add_alert("edge-3.dc1", state="cleared", rule_id=3, flapping=True)
    add_alert("core-1.dc1", rule_id=3)
    add_alert("edge_x", rule_id=3)
    assert set(hosts(search(state="open"))) == {"Edge-1.dc1", "edge-2.dc1", "core-1.dc1", "edge_x"}
    assert hosts(search(state="cleared")) == ["edge-3.dc1"]
    assert set(hosts(search(state="flapping"))) == {"edge-2.dc1", "edge-3.dc1"}  # the flag, in any state
    assert hosts(search(host="EDGE-1.DC1")) == ["Edge-1.dc1"]   # exact, any case
    assert hosts(search(host="edge-1")) == []                    # exact means the whole name
    assert set(hosts(search(host="EDGE-*"))) == {"Edge-1.dc1", "edge-2.dc1", "edge-3.dc1"}  # prefix; _ is no wildcard
    assert set(hosts(search(rule_id="3", state="open"))) == {"Edge-1.dc1", "core-1.dc1", "edge_x"}
    assert hosts(search(host="edge-*", rule_id="3", state="open")) == ["Edge-1.dc1"]


def test_keyset_pages_cover_every_alert_once_in_order(redis, database_url):
    for n in range(7):
        add_alert(f"open-{n}", seen_minutes_ago=n)
    for n in range(4):
        add_alert(f"cleared-{n}", state="cleared", seen_minutes_ago=n)
    add_alert("open-tie", seen_minutes_ago=3)  # same last_seen as open-3: the id decides
    seen, cursor, pages = [], None, 0
    while True:
        page = search(limit="5", cursor=cursor)
        assert page.total == 12 and len(page.alerts) <= 5
        seen += hosts(page)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert seen == ["open-0", "open-1", "open-2", "open-tie", "open-3", "open-4", "open-5", "open-6",
                    "cleared-0", "cleared-1", "cleared-2", "cleared-3"]


def test_a_page_holds_what_arrived_before_it_was_asked_for(redis, database_url):
    add_alert("a", seen_minutes_ago=1)
    add_alert("b", seen_minutes_ago=2)
    add_alert("c", seen_minutes_ago=3)
    first = search(limit="2")
    add_alert("newcomer", seen_minutes_ago=0)  # lands before the cursor: not repeated, not skipping "c"
    assert hosts(search(limit="2", cursor=first.next_cursor)) == ["c"]


@pytest.mark.parametrize(("args", "field"), [
    ({"state": "closed"}, "state"), ({"host": "x" * 256}, "host"), ({"host": "ed*ge"}, "host"), ({"host": "*"}, "host"),
    ({"host": "a\x00b"}, "host"), ({"rule_id": "0"}, "rule_id"), ({"rule_id": "²"}, "rule_id"),
    ({"rule_id": str(2**64)}, "rule_id"), ({"limit": "201"}, "limit"), ({"limit": "0"}, "limit"),
    ({"cursor": "abc"}, "cursor"), ({"cursor": "0." + "9" * 18 + ".1"}, "cursor"),
    ({"cursor": "1.1." + "9" * 19}, "cursor"), ({"cursor": "2.1.1"}, "cursor"),
])
def test_bad_filters_are_refused_naming_the_field(redis, sqlite_url, args, field):
    with pytest.raises(InvalidInput, match=field):
        search(**args)


def test_blank_filters_are_absent(redis, sqlite_url):
    add_alert("a")
    assert hosts(search(state="", host="  ", rule_id="", limit="", cursor="")) == ["a"]
    assert AlertFilter.from_args({"state": "OPEN"}).state == "open"


def test_counts_open_and_flapping(redis, database_url):
    add_alert("a")
    add_alert("b", flapping=True)
    add_alert("c", state="cleared", flapping=True)
    add_alert("d", state="cleared")
    with session_scope() as session:
        assert alert_queries.counts(session) == {"open": 2, "flapping": 2}


def test_one_alert_with_its_newest_events_and_its_deliveries(redis, database_url):
    alert_id = add_alert("router1", key="Gi0/1", occurrences=60)
    other = add_alert("router2")
    event_ids = audit_events(alert_id, alert_queries.RECENT_EVENTS + 10)
    audit_events(other, 2, hostname="router2")
    signature = "mutt:rule:7:router1:Gi0/1"
    delivered = insert_alerts(1, signature=signature, state="delivered", attempts=1, last_status=202,
                              delivered_at=NOW, created_at=NOW - timedelta(hours=1))
    waiting = insert_alerts(1, signature=signature, severity=0, attempts=3, last_status=503,
                            last_error="HTTP 503", created_at=NOW)
    insert_alerts(1, signature="mutt:rule:7:router2:x")
    with session_scope() as session:
        shown = alert_queries.detail(session, alert_id)
    assert (shown["hostname"], shown["key"], shown["occurrences"], shown["state"]) == ("router1", "Gi0/1", 60, "open")
    assert shown["events_total"] == alert_queries.RECENT_EVENTS + 10
    assert [event["event_id"] for event in shown["events"]] == event_ids[::-1][:alert_queries.RECENT_EVENTS]
    assert shown["events"][0]["message"] == f"link down #{alert_queries.RECENT_EVENTS + 9}"
    assert "event" not in shown["events"][0]
    assert shown["deliveries_total"] == 2
    assert [(d["id"], d["state"], d["severity"], d["attempts"], d["last_status"]) for d in shown["deliveries"]] == [
        (waiting[0], "pending", 0, 3, 503), (delivered[0], "delivered", 4, 1, 202)]
    assert shown["deliveries"][1]["delivered_at"] == NOW.isoformat()


def test_an_unknown_alert_is_not_found(redis, database_url):
    with session_scope() as session, pytest.raises(NotFound, match="no alert with id 12345"):
        alert_queries.detail(session, 12345)
