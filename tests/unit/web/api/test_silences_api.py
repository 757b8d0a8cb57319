"""/api/v2/silences on PostgreSQL: create, list by state, get, extend, expire; scopes, refusals,
the config audit, and the version bump that tells every worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit

SOON = datetime.now(UTC) + timedelta(hours=2)
SILENCE = {"matchers": [{"field": "hostname", "op": "=", "value": "core-rtr-01"}], "comment": "line card swap",
           "ends_at": SOON.isoformat()}


def test_a_silence_is_created_listed_extended_and_expired(api, operator, reader, redis):
    created = api.post("/api/v2/silences", json=SILENCE, headers=operator)
    assert created.status_code == 201, created.json
    silence_id = created.json["id"]
    assert created.json["silence"]["state"] == "active"
    assert created.json["silence"]["created_by"].startswith("key:operator script (")  # name and key prefix
    assert redis.get(redis_keys.SILENCES_VERSION) == "1"
    assert [s["id"] for s in api.get("/api/v2/silences?state=active", headers=reader).json["silences"]] == [silence_id]
    assert api.get("/api/v2/silences?state=pending", headers=reader).json["silences"] == []
    later = (SOON + timedelta(hours=1)).isoformat()
    extended = api.put(f"/api/v2/silences/{silence_id}", json={"ends_at": later}, headers=operator)
    assert extended.status_code == 200 and extended.json["silence"]["ends_at"].startswith(later[:19])
    expired = api.delete(f"/api/v2/silences/{silence_id}", json={"reason": "done early"}, headers=operator)
    assert expired.status_code == 200 and expired.json["silence"]["state"] == "expired"
    assert api.get(f"/api/v2/silences/{silence_id}", headers=reader).json["expired_at"] is not None
    assert [s["id"] for s in api.get("/api/v2/silences?state=expired", headers=reader).json["silences"]] == [silence_id]
    assert redis.get(redis_keys.SILENCES_VERSION) == "3"
    with session_scope() as session:
        audit = session.scalars(select(ConfigAudit).where(ConfigAudit.table_name == "silences")
                                .order_by(ConfigAudit.id)).all()
        assert [(row.operation, row.reason) for row in audit] == [
            ("CREATE", "line card swap"), ("UPDATE", "line card swap"), ("UPDATE", "done early")]
        assert audit[0].changed_by.startswith("key:operator script")


def test_a_recurring_silence_is_pending_between_windows(api, operator):
    body = {**SILENCE, "ends_at": None, "schedule": {"rrule": "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=1;BYHOUR=3;BYMINUTE=0",
                                                     "duration_seconds": 3600, "time_zone": "Europe/London"}}
    created = api.post("/api/v2/silences", json=body, headers=operator)
    assert created.status_code == 201, created.json
    assert created.json["silence"]["state"] == "pending"
    assert created.json["silence"]["window"]["starts_at"].endswith("T03:00:00+00:00")


@pytest.mark.parametrize("body, status, words", [
    ({**SILENCE, "matchers": []}, 422, "matchers is required"),
    ({**SILENCE, "matchers": [{"field": "colour", "op": "=", "value": "x"}]}, 422, "matchers[0].field"),
    ({**SILENCE, "matchers": [{"field": "message", "op": "like", "value": "x"}]}, 422, "matchers[0].op"),
    ({**SILENCE, "matchers": [{"field": "message", "op": "=~", "value": "(a"}]}, 422, "regular expression"),
    ({**SILENCE, "starts_at": SOON.isoformat(), "ends_at": (SOON - timedelta(hours=1)).isoformat()}, 422,
     "ends_at must be after"),
    ({**SILENCE, "ends_at": (SOON + timedelta(days=400)).isoformat()}, 422, "longer than a year"),
    ({**SILENCE, "ends_at": None, "schedule": {"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31", "duration_seconds": 60}},
     422, "never occurs"),
    ({**SILENCE, "comment": ""}, 422, "comment"),
    ("a string", 400, "JSON object"),
])
def test_refusals_name_the_field(api, operator, body, status, words):
    answer = api.post("/api/v2/silences", json=body, headers=operator)
    assert answer.status_code == status and words in answer.json["error"]


def test_scopes_states_and_missing_silences(api, operator, reader):
    assert api.post("/api/v2/silences", json=SILENCE, headers=reader).status_code == 403
    assert api.get("/api/v2/silences").status_code == 401
    assert api.get("/api/v2/silences?state=sleeping", headers=reader).status_code == 400
    assert api.get("/api/v2/silences/999", headers=reader).status_code == 404
    assert api.delete("/api/v2/silences/999", headers=operator).status_code == 404
    assert api.put("/api/v2/silences/999", json={"comment": "x"}, headers=operator).status_code == 404
