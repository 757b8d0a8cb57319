"""The admin, audit, metrics and SLO endpoints of the REST API, on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from mutt_app.ingest.buffer import RATE_BUCKETS
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit, EventAudit
from tests.support.processes import wait_until
from tests.support.web import admin_key


def headers(key: str) -> dict:
    return {"X-API-KEY": key}


def audit_rows(table: str) -> list[ConfigAudit]:
    with session_scope() as session:
        return list(session.scalars(select(ConfigAudit).where(ConfigAudit.table_name == table).order_by(ConfigAudit.id)))


def test_every_response_has_the_version_header_and_errors_are_json(api):
    for response in (api.get("/api/v2/metrics"), api.get("/api/v2/nope"), api.get("/api/v1/slo")):
        assert response.headers["X-API-Version"]
        assert response.is_json and ("error" not in response.json or response.json["correlation_id"])
    assert api.get("/api/v1/metrics").headers["X-API-Deprecated"] == "true"
    wrong_method = api.delete("/api/v2/metrics", headers=headers(admin_key()))
    assert wrong_method.status_code == 405 and wrong_method.json["error"]


def test_keys_need_the_right_scope(api):
    ingest_only = admin_key(("ingest",), name="sender")
    assert api.get("/api/v2/metrics").status_code == 401
    assert api.get("/api/v2/metrics", headers=headers("mutt_deadbeef_nope")).status_code == 401
    assert api.get("/api/v2/metrics", headers=headers(ingest_only)).status_code == 403
    read = admin_key(("read",), name="grafana")
    assert api.get("/api/v2/metrics", headers=headers(read)).status_code == 200
    assert api.get("/api/v2/users", headers=headers(read)).status_code == 403


def test_metrics_count_empty_minutes_as_zero_and_leave_out_the_current_minute(api, redis):
    now = datetime.now(UTC)
    fmt = dict((b, f) for b, f, _ in RATE_BUCKETS)
    minute = now.replace(second=0, microsecond=0)
    redis.set(redis_keys.ingest_rate("1m", minute.strftime(fmt["1m"])), 999)           # current, partial
    redis.set(redis_keys.ingest_rate("1m", (minute - timedelta(minutes=1)).strftime(fmt["1m"])), 30)
    redis.set(redis_keys.ingest_rate("1m", (minute - timedelta(minutes=20)).strftime(fmt["1m"])), 60)
    hour = minute.replace(minute=0)
    redis.set(redis_keys.ingest_rate("1h", (hour - timedelta(hours=2)).strftime(fmt["1h"])), 600)
    body = api.get("/api/v2/metrics", headers=headers(admin_key(("read",)))).json
    assert body["summary"] == {"current_rate_1m": 999, "avg_rate_15m": 2.0, "avg_rate_1h": 1.5}
    assert len(body["chart_24h"]["labels"]) == len(body["chart_24h"]["data"]) == 24
    assert body["chart_24h"]["labels"][-1] == hour.strftime("%H:00")
    assert body["chart_24h"]["data"][-3] == 10.0
    assert sum(body["chart_24h"]["data"][:-1]) == 10.0


def test_users_create_update_and_audit_without_secrets(api):
    key = admin_key()
    created = api.post("/api/v2/users", headers=headers(key),
                       json={"username": "olga", "password": "long enough pass", "role": "operator", "reason": "new on-call"})
    assert created.status_code == 201 and created.json["role"] == "operator"
    assert api.post("/api/v2/users", json={"username": "OLGA", "password": "long enough pass"}, headers=headers(key)).status_code == 409
    assert api.post("/api/v2/users", json={"username": "p", "password": "short"}, headers=headers(key)).status_code == 422
    assert api.post("/api/v2/users", data="not json", headers=headers(key)).status_code == 400
    user_id = created.json["id"]
    updated = api.put(f"/api/v2/users/{user_id}", json={"role": "admin", "is_active": False}, headers=headers(key))
    assert updated.status_code == 200 and updated.json["is_active"] is False
    assert api.put("/api/v2/users/9999", json={"role": "admin"}, headers=headers(key)).status_code == 404
    assert api.put(f"/api/v2/users/{user_id}", json={"role": "root"}, headers=headers(key)).status_code == 422
    rows = audit_rows("users")
    assert [r.operation for r in rows] == ["CREATE", "UPDATE"]
    assert rows[0].changed_by.startswith("key:test-admin") and rows[0].reason == "new on-call"
    assert rows[1].old_values == {"role": "operator", "is_active": True}
    assert "long enough pass" not in str([(r.old_values, r.new_values) for r in rows])
    listed = api.get("/api/v2/users", headers=headers(key)).json["users"]
    assert [u["username"] for u in listed] == ["olga"] and "password_hash" not in listed[0]


def test_api_keys_secret_shown_once_revoke_works_and_audit_has_no_key_material(api):
    key = admin_key()
    created = api.post("/api/v2/api-keys", json={"name": "rsyslog-a", "scopes": ["ingest", "read"]}, headers=headers(key))
    assert created.status_code == 201
    secret = created.json["key"]
    assert secret.startswith("mutt_" + created.json["prefix"])
    # every process's key cache re-checks the keys version once a second
    wait_until(lambda: api.get("/api/v2/metrics", headers=headers(secret)).status_code == 200, timeout=1.5,
               interval=0.05, message="the new key accepted")
    listed = api.get("/api/v2/api-keys", headers=headers(key))
    assert secret not in listed.get_data(as_text=True)
    assert api.post("/api/v2/api-keys", json={"name": "x", "scopes": ["god"]}, headers=headers(key)).status_code == 422
    assert api.post("/api/v2/api-keys", json={"name": "x", "scopes": 5}, headers=headers(key)).status_code == 422
    revoked = api.delete(f"/api/v2/api-keys/{created.json['id']}", headers=headers(key))
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert api.delete("/api/v2/api-keys/9999", headers=headers(key)).status_code == 404
    wait_until(lambda: api.get("/api/v2/metrics", headers=headers(secret)).status_code == 401, timeout=1.5,
               interval=0.05, message="the revoked key refused")
    rows = audit_rows("api_keys")
    assert secret not in str([(r.old_values, r.new_values, r.changed_by) for r in rows])
    assert [r.operation for r in rows[-2:]] == ["CREATE", "DELETE"]


def _event(i: int, host: str, rule_id: int, decision: str, received: datetime) -> dict:
    return {"event_id": f"{i:032x}", "received_at": received, "event_time": received, "hostname": host,
            "rule_id": rule_id, "rule_name": f"rule {rule_id}", "environment": "prod", "decision": decision,
            "forwarded": decision == "forward", "team": "NETO", "correlation_id": f"corr-{i}",
            "event": {"message": f"message {i}"}}


def test_audit_logs_filter_and_paginate_newest_first(api):
    base = datetime.now(UTC) - timedelta(hours=1)
    with session_scope() as session:
        session.add_all(EventAudit(**_event(i, "r1" if i % 2 else "r2", 1 + i % 3, "forward" if i < 5 else "ignore",
                                            base + timedelta(minutes=i))) for i in range(12))
    key = headers(admin_key(("read",)))
    everything = api.get("/api/v2/audit-logs?limit=5", headers=key).json
    assert everything["pagination"] == {"page": 1, "limit": 5, "total": 12, "pages": 3, "offset": 0, "returned": 5,
                                        "truncated": False, "max_bytes": 1024 * 1024, "next_offset": 5}
    assert [r["event_id"][-1] for r in everything["logs"]] == ["b", "a", "9", "8", "7"]
    last = api.get("/api/v2/audit-logs?limit=5&page=3", headers=key).json["logs"]
    assert len(last) == 2
    r1 = api.get("/api/v2/audit-logs?host=r1&decision=forward", headers=key).json["logs"]
    assert sorted(r["event_id"][-1] for r in r1) == ["1", "3"]
    assert api.get("/api/v2/audit-logs?hostname=r2&rule_id=1", headers=key).json["pagination"]["total"] == 2
    assert api.get("/api/v2/audit-logs?correlation_id=corr-4", headers=key).json["logs"][0]["message"] == "message 4"
    window = f"start={(base + timedelta(minutes=3)).isoformat()}&end={(base + timedelta(minutes=5)).isoformat()}"
    assert api.get("/api/v2/audit-logs?" + window.replace("+", "%2B"), headers=key).json["pagination"]["total"] == 3
    for bad in ("page=0", "limit=500", "page=x", "rule_id=abc", "start=yesterday"):
        response = api.get("/api/v2/audit-logs?" + bad, headers=key)
        assert response.status_code == 400 and response.json["error"], bad


def test_an_audit_page_stops_at_max_bytes_and_says_where_the_next_rows_start(api):
    base = datetime.now(UTC) - timedelta(hours=1)
    with session_scope() as session:
        for i in range(30):  # 30 rows of ~100 KB: 3 MB in one page of 200 rows before
            row = _event(i, "big", 1, "forward", base + timedelta(minutes=i))
            row["event"] = {"message": f"message {i}", "blob": "x" * 100_000}
            session.add(EventAudit(**row))
    key = headers(admin_key(("read",)))
    seen, url, answers = [], "/api/v2/audit-logs?limit=200", 0
    while url:
        response = api.get(url, headers=key)
        answers += 1
        assert response.status_code == 200 and len(response.get_data()) < 1.1 * 1024 * 1024
        page = response.json["pagination"]
        assert page["returned"] == len(response.json["logs"]) and page["total"] == 30
        seen += [r["event_id"] for r in response.json["logs"]]
        assert page["truncated"] == (page["next_offset"] is not None)
        url = f"/api/v2/audit-logs?limit=200&offset={page['next_offset']}" if page["next_offset"] is not None else None
    assert seen == [f"{i:032x}" for i in reversed(range(30))]  # every row once, newest first, none skipped
    assert answers >= 3


def test_config_audit_filters(api):
    key = admin_key()
    api.post("/api/v2/users", json={"username": "u1", "password": "long enough pass"}, headers=headers(key))
    api.post("/api/v2/api-keys", json={"name": "k1", "scopes": ["read"]}, headers=headers(key))
    read = headers(admin_key(("read",), name="reader"))
    all_changes = api.get("/api/v2/config-audit", headers=read).json
    assert all_changes["pagination"]["total"] == 4  # two test keys made by "test", one user, one key
    assert set(all_changes["changes"][0]) >= {"changed_at", "changed_by", "operation", "table_name", "record_id", "old_values",
                                              "new_values", "reason", "correlation_id"}
    by_key = api.get("/api/v2/config-audit?changed_by=TEST-ADMIN&table_name=users", headers=read).json["changes"]
    assert [c["new_values"]["username"] for c in by_key] == ["u1"]
    assert api.get("/api/v2/config-audit?operation=delete", headers=read).json["pagination"]["total"] == 0
    assert api.get("/api/v2/config-audit?changed_by=%25", headers=read).json["pagination"]["total"] == 0
    future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert api.get(f"/api/v2/config-audit?start_date={future}", headers=read).json["pagination"]["total"] == 0
    assert api.get("/api/v2/config-audit?operation=DROP", headers=read).status_code == 400
    assert api.get("/api/v2/config-audit?since=15m", headers=read).json["pagination"]["total"] == 4
    with session_scope() as session:
        session.execute(update(ConfigAudit).values(changed_at=datetime.now(UTC) - timedelta(hours=2)))
    assert api.get("/api/v2/config-audit?since=1h", headers=read).json["pagination"]["total"] == 0
    assert api.get("/api/v2/config-audit?since=24h", headers=read).json["pagination"]["total"] == 4
    assert "since must be one of" in api.get("/api/v2/config-audit?since=1y", headers=read).json["error"]
    user_id = by_key[0]["record_id"]
    assert api.get(f"/api/v2/config-audit?table_name=users&record_id={user_id}", headers=read).json["pagination"]["total"] == 1


def test_slo_reports_every_objective(api, redis):
    redis.hset(redis_keys.STATS, mapping={"audited": 990, "unhandled": 9, "dead_lettered": 1})
    body = api.get("/api/v2/slo", headers=headers(admin_key(("read",)))).json
    names = [s["slo_name"] for s in body["slos"]]
    assert names == ["ingestor_availability", "ingestor_latency_p99", "forwarder_availability",
                     "forwarder_latency_p99", "alerter_processing_success"]
    alerter = body["slos"][-1]
    assert alerter["actual_value"] == 0.999 and alerter["status"] == "ok"
    assert alerter["burn_rate"] == pytest.approx(1.0) and alerter["error_budget_remaining"] == pytest.approx(0.0, abs=1e-3)


def test_v25_config_audit_path_answers_in_v25_shape(api):
    key = admin_key()
    api.post("/api/v2/users", json={"username": "u2", "password": "long enough pass"}, headers=headers(key))
    body = api.get("/api/v1/audit?table_name=users", headers=headers(key)).json
    assert [row["new_values"]["username"] for row in body["logs"]] == ["u2"]
    assert body["pagination"]["total"] == 1


def test_the_last_active_admin_cannot_be_demoted_or_disabled(api):
    key = admin_key()
    boss = api.post("/api/v2/users", json={"username": "boss", "password": "long enough pass", "role": "admin"}, headers=headers(key)).json
    refused = api.put(f"/api/v2/users/{boss['id']}", json={"is_active": False}, headers=headers(key))
    assert refused.status_code == 409 and "last active admin" in refused.json["error"]
    assert api.put(f"/api/v2/users/{boss['id']}", json={"role": "viewer"}, headers=headers(key)).status_code == 409
    api.post("/api/v2/users", json={"username": "deputy", "password": "long enough pass", "role": "admin"}, headers=headers(key))
    assert api.put(f"/api/v2/users/{boss['id']}", json={"role": "viewer"}, headers=headers(key)).status_code == 200
