"""The runtime-settings API on PostgreSQL: read scope looks, admin changes, every change audited."""

import pytest
from sqlalchemy import select

from mutt_app import dynconfig
from mutt_app.core import logs
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit


def audit_rows():
    with session_scope() as session:
        return [(r.changed_by, r.operation, r.record_id, r.old_values, r.new_values, r.reason)
                for r in session.scalars(select(ConfigAudit).where(ConfigAudit.table_name == "runtime_settings"))]


def test_admin_changes_a_setting_every_process_sees_it_and_delete_restores_the_default(api, admin, reader, redis):
    other_process = dynconfig.RuntimeConfig(redis)
    response = api.put("/api/v2/config/alerter_queue_shed_threshold", json={"value": 500, "reason": "drill"}, headers=admin)
    assert response.status_code == 200, response.json
    assert response.json["value"] == 500 and response.json["old"] == 100_000 and response.json["overridden"]
    other_process._checked_at = 0
    assert other_process.get("alerter_queue_shed_threshold") == 500

    listed = api.get("/api/v2/config", headers=reader).json["settings"]
    assert {s["key"]: s["value"] for s in listed}["alerter_queue_shed_threshold"] == 500
    assert api.get("/api/v1/config/alerter_queue_shed_threshold", headers=reader).json["value"] == 500

    response = api.delete("/api/v2/config/alerter_queue_shed_threshold", json={"reason": "drill over"}, headers=admin)
    assert response.status_code == 200 and response.json["value"] == 100_000 and not response.json["overridden"]
    rows = audit_rows()
    assert [row[1:] for row in rows] == [
        ("UPDATE", "alerter_queue_shed_threshold", {"value": 100_000}, {"value": 500}, "drill"),
        ("DELETE", "alerter_queue_shed_threshold", {"value": 500}, {"value": 100_000}, "drill over"),
    ]
    assert all(row[0].startswith("key:admin script (") for row in rows)


@pytest.mark.parametrize(
    "method, path, body, status, message",
    [
        ("put", "/api/v2/config/moog_rate", {"value": 5}, 404, "unknown setting"),
        ("delete", "/api/v2/config/moog_rate", None, 404, "unknown setting"),
        ("get", "/api/v2/config/moog_rate", None, 404, "unknown setting"),
        ("put", "/api/v2/config/moog_rate_limit", {"reason": "no value"}, 400, '"value"'),
        ("put", "/api/v2/config/moog_rate_limit", [1], 400, '"value"'),
        ("put", "/api/v2/config/moog_rate_limit", {"value": 5, "reason": 7}, 400, "reason must be a string"),
        ("put", "/api/v2/config/moog_rate_limit", {"value": "fast"}, 422, "must be a whole number"),
        ("put", "/api/v2/config/moog_rate_limit", {"value": 0}, 422, "at least 1"),
        ("put", "/api/v2/config/moog_rate_limit", {"value": None}, 422, "DELETE"),
        ("put", "/api/v2/config/alerter_shed_mode", {"value": "drop"}, 422, "one of defer, dlq"),
    ],
)
def test_bad_requests_are_refused_with_a_reason_and_change_nothing(api, admin, redis, method, path, body, status, message):
    response = getattr(api, method)(path, json=body, headers=admin)
    assert response.status_code == status
    assert message in response.json["error"]
    assert redis.hgetall("mutt:config") == {}
    assert audit_rows() == []


def test_a_body_that_is_not_json_is_a_400(api, admin):
    response = api.put("/api/v2/config/moog_rate_limit", data="value=5", headers={**admin, "Content-Type": "text/plain"})
    assert response.status_code == 400


def test_read_scope_may_look_but_not_change(api, reader, redis):
    assert api.get("/api/v2/config/moog_rate_limit", headers=reader).status_code == 200
    assert api.put("/api/v2/config/moog_rate_limit", json={"value": 5}, headers=reader).status_code == 403
    assert api.delete("/api/v2/config/moog_rate_limit", headers=reader).status_code == 403
    assert api.get("/api/v2/config").status_code == 401
    assert logs.correlation_id.get() == ""  # a request's correlation id does not outlive it
    assert redis.hgetall("mutt:config") == {}


def _strict_json(response):
    """The body parsed as strict JSON: NaN/Infinity are not JSON (browsers and jq refuse them)."""
    import json

    def refuse(name):
        raise ValueError(f"{name} in the answer")

    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


@pytest.mark.parametrize("body", ['{"value": NaN}', '{"value": Infinity}', '{"value": -Infinity}', '{"value": 1e400}',
                                  '{"value": "NaN"}', '{"value": "inf"}', '{"value": "1e400"}'])
def test_a_non_finite_number_is_refused_and_the_listing_stays_valid_json(api, admin, reader, body):
    response = api.put("/api/v2/config/moog_rate_period", data=body, content_type="application/json", headers=admin)
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert "correlation_id" in _strict_json(response)
    settings = {s["key"]: s["value"] for s in _strict_json(api.get("/api/v2/config", headers=reader))["settings"]}
    assert settings["moog_rate_period"] == 1.0
    assert audit_rows() == []


def test_a_value_too_big_for_an_int_setting_is_a_422_not_a_500(api, admin):
    for value in (2**70, 1e300):
        response = api.put("/api/v2/config/moog_rate_limit", json={"value": value, "reason": "x"}, headers=admin)
        assert response.status_code == 422, response.get_data(as_text=True)


@pytest.mark.parametrize("key", ["dedup_window_seconds", "flap_threshold", "flap_window_seconds"])
def test_alert_lifecycle_windows_refuse_negative_and_non_finite_values_with_a_422_naming_them(api, admin, key):
    for value in (-1, float("inf"), "nan", 1e300):
        response = api.put(f"/api/v2/config/{key}", json={"value": value, "reason": "x"}, headers=admin)
        assert response.status_code == 422, (value, response.get_data(as_text=True))
        assert key in response.get_data(as_text=True)
