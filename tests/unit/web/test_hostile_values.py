"""Every route of the app (API, UI, auth, health), on SQLite and PostgreSQL, with hostile values in
its path, query parameters, JSON body and form fields: never a 500, and every answer that says it
is JSON is strict JSON (no NaN/Infinity)."""

from __future__ import annotations

import json
import re
from datetime import UTC
from urllib.parse import quote, urlencode

import pytest

from mutt_app.rules import rule_store
from mutt_app.storage.db import session_scope
from tests.support.web import admin_key, fresh_app, login, make_user

# As text (path, query, form) and as JSON values.
HOSTILE_TEXT = [str(2**64), str(2**40), "9" * 40, "²", "٣", "-1", "1e3", "NaN", "a\x00b", "x" * 5000]
ONE_BY_ONE = (str(2**64), str(2**40), "²")
HOSTILE_JSON = [2**64, 2**40, 10**40, -1, 1e300, "²", "a\x00b", "x" * 5000]

QUERY_NAMES = ("page", "limit", "offset", "cursor", "rule_id", "last", "kind", "reason", "state", "host", "hostname",
               "decision", "correlation_id", "start", "end", "start_date", "end_date", "changed_by", "table_name",
               "record_id", "operation", "include_deleted", "_external", "_scheme", "_anchor", "endpoint")
BODY_NAMES = ("ids", "value", "reason", "hostname", "team_assignment", "name", "scopes", "username", "password",
              "role", "is_active", "priority", "moog_severity", "syslog_severity", "match_type", "match_string",
              "force", "filter")
RULE = {"match_string": "LINK-3", "prod_handling": "Page_only", "dev_handling": "Ignore", "team_assignment": "NETO"}
FORM_NAMES = BODY_NAMES + ("action", "sample", "description", "trap_oid", "prod_handling", "dev_handling",
                           "current_password", "new_password", "csrf_token")
SKIP = {"static", "auth.logout"}
_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP or rule.rule.startswith("/api/v1/"):
            continue
        # pages that ask the workers (a 0.5 s timeout here) take no parameters: probed with one value
        slow = rule.endpoint.startswith(("health.", "ui.dashboard"))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.rule, method, HOSTILE_TEXT[:1] if slow else HOSTILE_TEXT, "<" not in rule.rule and not slow


def _path(rule: str, value: str) -> str:
    return _ARG.sub(lambda _match: quote(value, safe=""), rule)


def _bodies(rule: str, value):
    """All fields at once, then (where a bad first field would hide the others) one at a time."""
    yield {name: value for name in BODY_NAMES}
    if "dead-letters" in rule:
        yield {"ids": [value], "reason": "x"}
        yield {"filter": {"kind": value}}
    if "rules" in rule:
        yield {"event": {"hostname": value, "message": value, "timestamp": value}, "rule": {**RULE, "priority": value}}
        for name in ("priority", "moog_severity", "syslog_severity", "match_string", "name"):
            yield {**RULE, name: value}


def _forms(rule: str, value):
    yield {name: value for name in FORM_NAMES}
    if "rules" in rule:
        for name in ("priority", "moog_severity", "syslog_severity"):
            yield {**RULE, "match_type": "contains", name: value}


def _strict(response) -> None:
    if response.is_json:
        json.loads(response.get_data(as_text=True),
                   parse_constant=lambda name: pytest.fail(f"{name} in {response.request.path}"))


@pytest.fixture
def hostile_app(redis, database_url):
    return fresh_app()


def test_no_route_answers_500_to_hostile_values(hostile_app):
    api = hostile_app.test_client()
    key = {"X-API-KEY": admin_key(("admin", "operator", "read"))}
    ui = hostile_app.test_client()
    make_user("root", "admin")
    assert login(ui, "root").status_code == 302
    with session_scope() as session:  # rule 1, so that PUT /rules/1 reaches the field checks
        rule_store.create_rule(session, dict(RULE), actor="test")
    hostile_app.config["WTF_CSRF_ENABLED"] = False  # reach the views' own checks
    failures, unauthorised = [], []

    def check(client, method, url, **kwargs):
        response = client.open(url, method=method, **kwargs)
        logged_out = response.status_code == 401 or (response.status_code == 302 and "/login" in response.location)
        if logged_out and not url.startswith("/login"):  # a failed login sends one back to it
            unauthorised.append(f"{method} {url[:120]}")
        if response.status_code >= 500 and response.status_code != 503:  # 503: /health without a worker
            failures.append(f"{method} {url[:120]} {str(kwargs)[:200]} -> {response.status_code}")
        _strict(response)

    for rule, method, values, probe_each in _routes(hostile_app):
        client, headers = (api, key) if rule.startswith("/api/") else (ui, {})
        for value in values:
            url = _path(rule, value) + "?" + urlencode({name: value for name in QUERY_NAMES})
            if method == "GET":
                check(client, method, url, headers=headers)
                if probe_each and value in ONE_BY_ONE:  # a bad first parameter hides the others
                    for name in QUERY_NAMES:
                        check(client, method, f"{rule}?{urlencode({name: value})}", headers=headers)
            elif rule.startswith("/api/"):
                for body in _bodies(rule, value):
                    check(client, method, url, headers=headers, json=body)
            else:
                for form in _forms(rule, value):
                    check(client, method, url, headers=headers, data=form)
        if rule.startswith("/api/") and method != "GET":
            existing = "999999" if "api-keys" in rule else "1"  # key 1 is the walk's own: not revoked
            for value in HOSTILE_JSON:
                for body in _bodies(rule, value):
                    check(client, method, _path(rule, existing), headers=headers, json=body)
    assert failures == [], "\n".join(failures)
    assert unauthorised == [], "the walk lost its own credentials: later requests proved nothing"


@pytest.mark.parametrize("url, message", [
    ("/api/v2/audit-logs?page=%C2%B2", "page must be a whole number"),
    ("/api/v2/audit-logs?page=%D9%A3", "page must be a whole number"),   # int("٣") would be 3
    ("/api/v2/audit-logs?rule_id=18446744073709551616", "rule_id must be between"),
    ("/api/v2/config-audit?page=18446744073709551616", "page must be between"),
    ("/api/v2/dead-letters?page=18446744073709551616", "page must be between"),
    ("/api/v2/dead-letters?limit=1e3", "limit must be a whole number"),
    ("/api/v2/audit-logs?host=a%00b", "NUL characters"),
    ("/api/v2/config-audit?changed_by=%00", "NUL characters"),
])
def test_a_bad_number_or_a_nul_in_a_query_is_a_400_naming_it(hostile_app, url, message):
    response = hostile_app.test_client().get(url, headers={"X-API-KEY": admin_key(("read",))})
    assert response.status_code == 400 and message in response.json["error"], response.json


def test_path_ids_beyond_their_column_are_404_and_json_bodies_with_nul_or_nan_are_400(hostile_app):
    api = hostile_app.test_client()
    key = {"X-API-KEY": admin_key(("admin", "operator", "read"))}
    assert api.get(f"/api/v2/rules/{2**64}", headers=key).status_code == 404
    assert api.get(f"/api/v2/rules/{2**31}", headers=key).status_code == 404  # PostgreSQL: integer out of range
    assert api.put(f"/api/v2/users/{2**40}", json={"role": "viewer"}, headers=key).status_code == 404
    assert api.get(f"/api/v2/dead-letters/{2**63}", headers=key).status_code == 404
    assert api.get(f"/api/v2/dead-letters/{2**63 - 1}", headers=key).status_code == 404  # no such letter
    for raw in ('{"ids": [1], "reason": "a\\u0000b"}', '{"ids": [NaN]}', '{"ids": [1e400]}'):
        response = api.post("/api/v2/dead-letters/replay", data=raw, content_type="application/json", headers=key)
        assert response.status_code == 400, raw
    response = api.post("/api/v2/dead-letters/purge", json={"ids": [2**64]}, headers=key)
    assert response.status_code == 400 and "ids[]" in response.json["error"]
    response = api.post("/api/v2/rules/test?last=%C2%B2", json={}, headers=key)
    assert response.status_code == 400 and "last must be a whole number" in response.json["error"]


def test_the_pager_keeps_any_filter_name_as_a_query_parameter(hostile_app):
    from mutt_app.audit import config_audit
    from mutt_app.storage.db import session_scope

    with session_scope() as session:
        for number in range(60):
            config_audit.record(session, actor="test", operation="UPDATE", table="rules", record_id=number)
    ui = hostile_app.test_client()
    make_user("viewer1", "viewer")
    assert login(ui, "viewer1").status_code == 302
    # url_for(endpoint, **args) read these as its own arguments: a 500 (or a link to another host)
    response = ui.get("/config-audit?_scheme=javascript&_external=1&endpoint=x&_anchor=y")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/config-audit?_scheme=javascript&amp;_external=1&amp;endpoint=x&amp;_anchor=y&amp;page=2"' in page


def test_the_event_audit_page_of_the_ui_says_when_it_stops_at_max_bytes(hostile_app):
    from datetime import datetime, timedelta

    from mutt_app.storage.db import session_scope
    from mutt_app.storage.models import EventAudit

    now = datetime.now(UTC)
    with session_scope() as session:
        session.add_all(EventAudit(event_id=f"{i:032x}", received_at=now - timedelta(minutes=i), event_time=now,
                                   hostname="big", rule_id=1, rule_name="r", environment="prod", decision="forward",
                                   forwarded=True, team="NETO", correlation_id="c",
                                   event={"message": "m", "blob": "x" * 200_000}) for i in range(8))
    ui = hostile_app.test_client()
    make_user("viewer2", "viewer")
    assert login(ui, "viewer2").status_code == 302
    page = ui.get("/events?host=big").get_data(as_text=True)
    assert "this page stops after" in page and 'href="/events?host=big&amp;offset=' in page
    assert len(page) < 2 * 1024 * 1024


def test_an_audit_row_holding_infinity_from_an_older_release_is_answered_as_strict_json(hostile_app, database_url):
    from datetime import datetime

    from mutt_app.storage.db import session_scope
    from mutt_app.storage.models import EventAudit

    if database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's jsonb never stored Infinity")
    now = datetime.now(UTC)
    with session_scope() as session:
        session.add(EventAudit(event_id="0" * 32, received_at=now, event_time=now, hostname="h", rule_id=1,
                               rule_name="r", environment="prod", decision="forward", forwarded=True, team="NETO",
                               correlation_id="c", event={"message": "m", "load": float("inf")}))
    response = hostile_app.test_client().get("/api/v2/audit-logs", headers={"X-API-KEY": admin_key(("read",))})
    assert response.status_code == 200
    _strict(response)
    assert response.json["logs"][0]["event"]["load"] == "inf"
