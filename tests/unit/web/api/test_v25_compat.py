"""/api/v1 answers in v2.5's shapes (docs/api.md, "v2.5 compatibility"); /api/v2 keeps MUTT 3's."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from mutt_app.rules import rule_store
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import EventAudit

RULE = {"name": "link", "match_type": "contains", "match_string": "LINK", "priority": 10, "prod_handling": "Page_only",
        "dev_handling": "Ignore", "team_assignment": "NETO"}


def test_version_answers_v25s_shape_without_a_key(api):
    v1 = api.get("/api/v1/version")
    assert v1.status_code == 200 and v1.json["current_version"] == "2.5"
    assert set(v1.json) == {"current_version", "default_version", "supported_versions", "version_history"}
    assert api.get("/api/v2/version").json["current_version"] == "2.0"


def test_config_is_a_map_of_key_to_value_under_v1(api, admin, reader):
    api.put("/api/v2/config/moog_rate_limit", json={"value": 7, "reason": "test"}, headers=admin)
    v1 = api.get("/api/v1/config", headers=reader).json
    assert set(v1) == {"config"} and v1["config"]["moog_rate_limit"] == 7
    assert "settings" in api.get("/api/v2/config", headers=reader).json


def test_config_history_lists_setting_changes_with_v25_table_names(api, admin, reader):
    api.put("/api/v2/config/moog_rate_limit", json={"value": 7, "reason": "drill"}, headers=admin)
    with session_scope() as session:
        rule_store.create_rule(session, RULE, actor="test")  # not a setting: not in the history
    v1 = api.get("/api/v1/config/history", headers=reader).json
    rows = [(row["table_name"], row["record_id"], row["reason"]) for row in v1["history"]]
    assert rows == [("dynamic_config", "moog_rate_limit", "drill")]
    assert v1["pagination"]["total"] == 1
    assert api.get("/api/v2/config/history", headers=reader).json["history"][0]["table_name"] == "runtime_settings"


def test_config_audit_under_v1_uses_and_accepts_v25_table_names(api, reader):
    with session_scope() as session:
        rule_id = rule_store.create_rule(session, RULE, actor="test").id
    v1 = api.get("/api/v1/audit?table_name=alert_rules", headers=reader).json
    assert [(row["table_name"], row["record_id"], row["operation"]) for row in v1["logs"]] == [("alert_rules", rule_id, "CREATE")]
    v2 = api.get("/api/v2/audit?table_name=rules", headers=reader).json
    assert v2["logs"][0]["table_name"] == "rules" and v2["logs"][0]["record_id"] == str(rule_id)


def audited(event_id: str, received: datetime, happened: datetime) -> None:
    with session_scope() as session:
        session.add(EventAudit(event_id=event_id, received_at=received, event_time=happened, hostname="r1", rule_id=3,
                               rule_name="link", environment="prod", decision="Page_only", forwarded=True, team="NETO",
                               correlation_id="c-" + event_id, event={"hostname": "r1", "message": "LINK down"}))


def test_audit_logs_under_v1_have_v25_fields_and_filter_on_event_time(api, reader):
    audited("late", received=datetime(2026, 11, 25, 12, tzinfo=UTC), happened=datetime(2026, 11, 20, 8, tzinfo=UTC))
    audited("prompt", received=datetime(2026, 11, 21, 9, tzinfo=UTC), happened=datetime(2026, 11, 21, 9, tzinfo=UTC))
    window = "start_date=2026-11-20T00:00:00Z&end_date=2026-11-20T23:59:59Z"
    v1 = api.get(f"/api/v1/audit-logs?{window}", headers=reader).json["logs"]
    assert v1 == [{"id": "late", "event_timestamp": "2026-11-20T08:00:00+00:00", "hostname": "r1", "matched_rule_id": 3,
                   "handling_decision": "Page_only", "forwarded_to_moog": True,
                   "raw_message": json.dumps({"hostname": "r1", "message": "LINK down"}, sort_keys=True)}]
    assert api.get(f"/api/v2/audit-logs?{window}", headers=reader).json["logs"] == []  # v2: received time
