"""/api/v2/alerts: read scope lists (filtered, keyset pages) and shows one alert with its events and
deliveries; bad filters 400 naming the field, unknown ids 404; answers match openapi.json."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.alert_states import add_alert, audit_events
from tests.support.alerts import insert_alerts
from tests.unit.web.test_openapi import check

pytestmark = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)


def test_list_filters_and_pages_with_a_cursor(api, reader):
    add_alert("edge-1", state="cleared", seen_minutes_ago=1)
    add_alert("edge-2", seen_minutes_ago=30, flapping=True)
    add_alert("core-1", seen_minutes_ago=2, rule_id=9)
    document = api.get("/api/v2/openapi.json").json
    first = api.get("/api/v2/alerts?limit=2", headers=reader)
    check(document, first, "get", "/api/v2/alerts")
    assert [a["hostname"] for a in first.json["alerts"]] == ["core-1", "edge-2"]
    assert first.json["pagination"]["total"] == 3
    rest = api.get(f"/api/v2/alerts?limit=2&cursor={first.json['pagination']['next_cursor']}", headers=reader).json
    assert [a["hostname"] for a in rest["alerts"]] == ["edge-1"] and rest["pagination"]["next_cursor"] is None
    flapping = api.get("/api/v2/alerts?state=flapping", headers=reader).json["alerts"]
    assert [(a["hostname"], a["flapping"]) for a in flapping] == [("edge-2", True)]
    assert [a["hostname"] for a in api.get("/api/v2/alerts?host=EDGE-*&state=open", headers=reader).json["alerts"]] == ["edge-2"]
    assert [a["hostname"] for a in api.get("/api/v2/alerts?rule_id=9", headers=reader).json["alerts"]] == ["core-1"]


def test_since_lists_the_alerts_seen_in_the_last_so_long(api, reader):
    now = datetime.now(UTC)
    add_alert("seen-lately", last_seen=now - timedelta(minutes=30), changed_at=now)
    add_alert("seen-yesterday", last_seen=now - timedelta(hours=26), changed_at=now)
    hosts = {since: [a["hostname"] for a in api.get(f"/api/v2/alerts?since={since}", headers=reader).json["alerts"]]
             for since in ("15m", "1h", "7d")}
    assert hosts == {"15m": [], "1h": ["seen-lately"], "7d": ["seen-lately", "seen-yesterday"]}


@pytest.mark.parametrize(("query", "field"), [("state=closed", "state"), ("rule_id=x", "rule_id"), ("limit=500", "limit"),
                                              ("cursor=nope", "cursor"), ("host=a*b", "host"), ("since=2h", "since")])
def test_bad_filters_are_400_naming_the_field(api, reader, query, field):
    response = api.get(f"/api/v2/alerts?{query}", headers=reader)
    check(api.get("/api/v2/openapi.json").json, response, "get", "/api/v2/alerts")
    assert response.status_code == 400 and field in response.json["error"]


def test_show_has_the_events_and_deliveries_and_unknown_is_404(api, reader):
    alert_id = add_alert("router1", key="Gi0/1")
    audit_events(alert_id, 3)
    insert_alerts(2, signature="mutt:rule:7:router1:Gi0/1")
    response = api.get(f"/api/v2/alerts/{alert_id}", headers=reader)
    check(api.get("/api/v2/openapi.json").json, response, "get", "/api/v2/alerts/{alert_id}")
    body = response.json
    assert (body["id"], body["events_total"], len(body["events"]), body["deliveries_total"]) == (alert_id, 3, 3, 2)
    missing = api.get("/api/v2/alerts/99999", headers=reader)
    assert missing.status_code == 404 and missing.json["error"] == "no alert with id 99999"
    assert api.get(f"/api/v2/alerts/{2**63}", headers=reader).status_code == 404


def test_reading_needs_a_key(api):
    assert api.get("/api/v2/alerts").status_code == 401
    assert api.get("/api/v2/alerts/1").status_code == 401
