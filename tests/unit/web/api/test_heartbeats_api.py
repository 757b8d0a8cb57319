"""/api/v2/heartbeats on PostgreSQL: read to look, operator to change, audited, refusals named."""

from __future__ import annotations

import pytest

from mutt_app.storage import redis_keys

HEARTBEAT = {"hostname": "Core-RTR-01", "interval_seconds": 300, "severity": 5, "comment": "core router",
             "reason": "it went quiet last week"}


def test_heartbeats_crud_with_last_seen_and_quiet(api, operator, reader, redis):
    created = api.post("/api/v2/heartbeats", json=HEARTBEAT, headers=operator)
    assert created.status_code == 201, created.json
    heartbeat = created.json["heartbeat"]
    assert (heartbeat["hostname"], heartbeat["severity"], heartbeat["quiet"], heartbeat["last_seen"]) == \
        ("core-rtr-01", 5, False, None)
    assert redis.hget(redis_keys.HEARTBEATS_WATCHED, "hostname:core-rtr-01") == "300000"
    redis.zadd(redis_keys.HEARTBEATS_LAST_SEEN, {"hostname:core-rtr-01": 1_800_000_000_000})
    one = api.get(f"/api/v2/heartbeats/{heartbeat['id']}", headers=reader)
    assert one.json["heartbeat"]["last_seen"].startswith("2027-01-15T08:00:00")
    updated = api.put(f"/api/v2/heartbeats/{heartbeat['id']}", json={"interval_seconds": 60}, headers=operator)
    assert updated.status_code == 200 and updated.json["heartbeat"]["interval_seconds"] == 60
    assert [h["name"] for h in api.get("/api/v1/heartbeats", headers=reader).json["heartbeats"]] == ["core-rtr-01"]
    assert api.delete(f"/api/v2/heartbeats/{heartbeat['id']}", headers=operator).status_code == 200
    assert api.get(f"/api/v2/heartbeats/{heartbeat['id']}", headers=reader).status_code == 404
    assert redis.hget(redis_keys.HEARTBEATS_WATCHED, "hostname:core-rtr-01") is None
    changes = api.get("/api/v2/config-audit?table_name=heartbeats", headers=reader)
    assert changes.status_code == 200
    assert sorted(c["operation"] for c in changes.json["changes"]) == ["CREATE", "DELETE", "UPDATE"]


def test_reading_is_not_changing(api, reader):
    assert api.post("/api/v2/heartbeats", json=HEARTBEAT, headers=reader).status_code == 403
    assert api.get("/api/v2/heartbeats").status_code == 401


@pytest.mark.parametrize(("body", "status", "words"), [
    ({**HEARTBEAT, "interval_seconds": 5}, 422, "interval_seconds must be between 10"),
    ({**HEARTBEAT, "interval_seconds": 1.5}, 422, "interval_seconds must be a whole number"),
    ({**HEARTBEAT, "interval_seconds": None}, 422, "interval_seconds: required"),
    ({**HEARTBEAT, "severity": 6}, 422, "severity must be between 1 and 5"),
    ({**HEARTBEAT, "comment": " "}, 422, "comment is required"),
    ({**HEARTBEAT, "source": "relay-a"}, 422, "exactly one of hostname"),
    ({**HEARTBEAT, "hostname": "x" * 300}, 422, "hostname must be 1-255"),
    ({**HEARTBEAT, "owner": "me"}, 422, "unknown field(s): owner"),
    ({**HEARTBEAT, "reason": 7}, 400, "reason must be a string"),
    ([HEARTBEAT], 400, "JSON object"),
])
def test_a_refused_heartbeat_names_the_field(api, operator, body, status, words):
    answer = api.post("/api/v2/heartbeats", json=body, headers=operator)
    assert answer.status_code == status and words in answer.json["error"], answer.json


def test_a_second_heartbeat_for_a_source_is_409_and_a_missing_one_404(api, operator):
    assert api.post("/api/v2/heartbeats", json=HEARTBEAT, headers=operator).status_code == 201
    assert api.post("/api/v2/heartbeats", json={**HEARTBEAT, "hostname": "core-rtr-01"}, headers=operator).status_code == 409
    assert api.put("/api/v2/heartbeats/999", json={"severity": 2}, headers=operator).status_code == 404
    assert api.delete("/api/v2/heartbeats/999", headers=operator).status_code == 404
    first = api.get("/api/v2/heartbeats", headers=operator).json["heartbeats"][0]["id"]
    answer = api.put(f"/api/v2/heartbeats/{first}", json={"hostname": "other"}, headers=operator)
    assert answer.status_code == 422 and "cannot change" in answer.json["error"]
