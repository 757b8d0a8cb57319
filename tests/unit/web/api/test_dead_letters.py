"""/api/v2/dead-letters: read scope lists and shows, operator scope replays and purges, all audited."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, ConfigAudit, DeadLetter
from tests.support.recovery import make_alert, queued_alert_ids, queued_batch_ids

pytestmark = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)


def letters(n_events=3):
    with session_scope() as session:
        for i in range(n_events):
            dlq.record(session, dlq.EVENT, f"e{i}", dlq.SHED, payload={"_id": f"e{i}", "message": "m"})
        alert = make_alert(session, state="dead")
        dlq.record(session, dlq.ALERT, alert.id, dlq.MOOG_REJECTED, error="400 bad field", last_status=400,
                   payload={"alert_id": alert.id})
    with session_scope() as session:
        return {letter.ref_id: letter.id for letter in session.scalars(select(DeadLetter))}, alert.id


def test_list_filters_and_paginates(api, reader):
    ids, _ = letters(3)
    body = api.get("/api/v2/dead-letters?limit=2", headers=reader).json
    assert body["pagination"] == {"page": 1, "limit": 2, "total": 4, "pages": 2}
    assert len(body["dead_letters"]) == 2 and "payload" not in body["dead_letters"][0]
    shed = api.get("/api/v2/dead-letters?reason=shed&kind=event&state=waiting", headers=reader).json
    assert sorted(item["ref_id"] for item in shed["dead_letters"]) == ["e0", "e1", "e2"]
    alerts = api.get("/api/v2/dead-letters?kind=alert", headers=reader).json["dead_letters"]
    assert alerts[0]["last_status"] == 400 and alerts[0]["reason"] == "moog_rejected"


def test_since_lists_and_selects_the_letters_that_failed_in_the_last_so_long(api, reader, operator):
    ids, _ = letters(3)
    with session_scope() as session:
        session.get(DeadLetter, ids["e0"]).last_failed_at = datetime.now(UTC) - timedelta(days=2)
    recent = api.get("/api/v2/dead-letters?since=24h&kind=event", headers=reader).json["dead_letters"]
    assert sorted(item["ref_id"] for item in recent) == ["e1", "e2"]
    purged = api.post("/api/v2/dead-letters/purge", json={"filter": {"kind": "event", "since": "24h"}, "reason": "old run"},
                      headers=operator).json
    assert purged == {"purged": 2}
    assert [item["ref_id"] for item in api.get("/api/v2/dead-letters?kind=event", headers=reader).json["dead_letters"]] == ["e0"]


@pytest.mark.parametrize("query", ["reason=tired", "page=0", "limit=abc", "kind=thing", "since=forever"])
def test_bad_list_queries_are_400(api, reader, query):
    response = api.get(f"/api/v2/dead-letters?{query}", headers=reader)
    assert response.status_code == 400 and response.json["error"]


def test_show_has_the_payload_and_unknown_is_404(api, reader):
    ids, _ = letters(1)
    body = api.get(f"/api/v2/dead-letters/{ids['e0']}", headers=reader).json
    assert body["payload"] == {"_id": "e0", "message": "m"}
    assert api.get("/api/v2/dead-letters/99999", headers=reader).status_code == 404


def test_reading_needs_a_key_and_changing_needs_the_operator_scope(api, reader):
    assert api.get("/api/v2/dead-letters").status_code == 401
    assert api.post("/api/v2/dead-letters/replay", json={"ids": [1]}, headers=reader).status_code == 403
    assert api.post("/api/v2/dead-letters/purge", json={"ids": [1]}, headers=reader).status_code == 403


def test_replay_by_filter_and_by_ids_with_force_is_audited(api, operator, redis):
    ids, alert_id = letters(2)
    response = api.post("/api/v2/dead-letters/replay", json={"filter": {"reason": "shed"}, "reason": "load gone"},
                           headers=operator)
    assert response.status_code == 200
    assert sorted(response.json["replayed"]) == sorted([ids["e0"], ids["e1"]])
    assert len(queued_batch_ids(redis)) == 1
    refused = api.post("/api/v2/dead-letters/replay", json={"ids": [ids[alert_id]]}, headers=operator).json
    assert refused["replayed"] == [] and "force" in refused["skipped"][0]["why"]
    forced = api.post("/api/v2/dead-letters/replay", json={"ids": [ids[alert_id]], "force": True,
                                                              "reason": "Moog field fixed"}, headers=operator).json
    assert forced["replayed"] == [ids[alert_id]]
    assert queued_alert_ids(redis) == [alert_id]
    with session_scope() as session:
        assert session.get(Alert, alert_id).state == "pending"
        audits = session.scalars(select(ConfigAudit).where(ConfigAudit.table_name == "dead_letters")).all()
        assert sorted((a.reason, a.changed_by.startswith("key:operator script")) for a in audits) == [
            ("Moog field fixed", True), ("load gone", True), ("load gone", True)]


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": ["x"]}, {"filter": {}}, {"filter": {"colour": "red"}},
                                  {"filter": {"reason": "tired"}}, [1, 2], {"ids": [1], "reason": 5},
                                  {"filter": {"since": 3600}}])
def test_bad_replay_and_purge_requests_are_400(api, operator, body):
    for action in ("replay", "purge"):
        response = api.post(f"/api/v2/dead-letters/{action}", json=body, headers=operator)
        assert response.status_code == 400, (action, body, response.json)


def test_purge_by_ids_and_filter(api, operator, reader):
    ids, _ = letters(3)
    assert api.post("/api/v2/dead-letters/purge", json={"ids": [ids["e0"]], "reason": "junk"}, headers=operator).json == {"purged": 1}
    assert api.post("/api/v2/dead-letters/purge", json={"filter": {"kind": "event"}}, headers=operator).json == {"purged": 2}
    remaining = api.get("/api/v2/dead-letters", headers=reader).json["dead_letters"]
    assert [item["kind"] for item in remaining] == ["alert"]
