"""/api/v2/rules, /dev-hosts, /teams and the dry run, on PostgreSQL: v2.5 shapes, scopes, 4xx."""

from __future__ import annotations

import time

import pytest

from mutt_app.alerting import dry_run
from mutt_app.rules import seed
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope

RULE = {"match_string": "BGP-5-ADJCHANGE", "prod_handling": "Page_only", "dev_handling": "Ignore",
        "team_assignment": "NetOps", "priority": 7, "moog_severity": "Major", "reason": "peering"}


@pytest.fixture(autouse=True)
def seed_rules(api):
    with session_scope() as session:
        seed.load_if_empty(session)


def test_rules_crud_in_v25_shapes(api, operator, reader, redis):
    listed = api.get("/api/v2/rules", headers=reader)
    assert listed.status_code == 200
    assert [r["priority"] for r in listed.json["rules"]] == [5, 6, 7, 8, 10, 15, 20, 50]
    created = api.post("/api/v2/rules", json=RULE, headers=operator)
    assert created.status_code == 201, created.json
    rule_id = created.json["id"]
    assert created.json["rule"]["moog_severity"] == 4 and created.json["rule"]["moog_severity_name"] == "Major"
    assert api.get(f"/api/v1/rules/{rule_id}", headers=reader).json["match_string"] == "BGP-5-ADJCHANGE"
    updated = api.put(f"/api/v2/rules/{rule_id}", json={"priority": 3, "reason": "first"}, headers=operator)
    assert updated.status_code == 200 and updated.json["rule"]["priority"] == 3
    assert api.get("/api/v2/rules", headers=reader).json["rules"][0]["id"] == rule_id
    assert api.delete(f"/api/v2/rules/{rule_id}", json={"reason": "done"}, headers=operator).status_code == 200
    assert api.get(f"/api/v2/rules/{rule_id}", headers=reader).status_code == 404
    assert rule_id in [r["id"] for r in api.get("/api/v2/rules?include_deleted=true", headers=reader).json["rules"]]
    assert redis.get(redis_keys.RULES_VERSION) == "3"


@pytest.mark.parametrize(
    "method, path, body, status, words",
    [
        ("post", "/api/v2/rules", {**RULE, "match_type": "regex", "match_string": "(bad"}, 422, "regular expression"),
        ("post", "/api/v2/rules", {k: v for k, v in RULE.items() if k != "match_string"}, 422, "match_string or a trap_oid"),
        ("post", "/api/v2/rules", {**RULE, "syslog_severity": 12}, 422, "0-7"),
        ("post", "/api/v2/rules", {**RULE, "reason": 5}, 400, "reason"),
        ("post", "/api/v2/rules", "not an object", 400, "JSON object"),
        ("put", "/api/v2/rules/1", {"moog_severity": 9}, 422, "0-5"),
        ("put", "/api/v2/rules/999", {"priority": 1}, 404, "not found"),
        ("delete", "/api/v2/rules/999", None, 404, "not found"),
        ("post", "/api/v2/dev-hosts", {"hostname": "dev-router1"}, 409, "already"),
        ("post", "/api/v2/dev-hosts", {"name": "x"}, 400, "hostname"),
        ("delete", "/api/v2/dev-hosts/nope", None, 404, "not a development host"),
        ("post", "/api/v2/teams", {"hostname": "edge-fw-02.edge.example.com", "team_assignment": "X"}, 409, "already"),
        ("put", "/api/v2/teams/nope", {"team_assignment": "X"}, 404, "no device team"),
        ("put", "/api/v2/teams/edge-fw-02.edge.example.com", {"team_assignment": ""}, 422, "team_assignment"),
        ("post", "/api/v2/rules/test", {"rule": RULE}, 400, "event"),
        ("post", "/api/v2/rules/test", {"event": [1]}, 422, "JSON object"),
        ("post", "/api/v2/rules/test?last=x", {}, 400, "whole number"),
        ("post", "/api/v2/rules/test", {"event": {}, "rule": {"id": "abc"}}, 422, "integer"),
        ("post", "/api/v2/rules/test", {"event": {}, "rule": {"id": 999}}, 404, "not found"),
        ("post", "/api/v2/rules", {**RULE, "priority": 10**20}, 422, "priority"),
        ("post", "/api/v2/teams", {"hostname": "a b", "team_assignment": "X"}, 422, "hostname"),
        ("post", "/api/v2/rules/test?last=5000", {}, 422, "between 1 and 1000"),
        # patterns RE2 cannot run, or not in bounded time: refused when saved and in the dry run
        ("post", "/api/v2/rules", {**RULE, "match_type": "regex", "match_string": "BGP(?=-5)"}, 422,
         "match_string is not a valid regular expression for RE2 (linear-time matching): lookahead"),
        ("put", "/api/v2/rules/1", {"match_type": "regex", "match_string": r"(\w+) \1"}, 422, "backreferences"),
        ("post", "/api/v2/rules/test", {"event": {"message": "x"}, "rule": {**RULE, "match_type": "regex",
                                        "match_string": "(?<=a)b"}}, 422, "match_string is not a valid regular expression for RE2"),
        ("post", "/api/v2/rules", {**RULE, "match_type": "regex", "match_string": "(?:.{1,99}.{1,99}.{1,99}){1,3}!"}, 422,
         "too complex to match in bounded time"),
        # handling decisions are a closed set
        ("post", "/api/v2/rules", {**RULE, "prod_handling": "Pgae_only"}, 422,
         "prod_handling must be one of Page_and_ticket, Page_only, Ticket_only, Ignore (any case), got 'Pgae_only'"),
        ("post", "/api/v2/rules", {**RULE, "dev_handling": "page only"}, 422, "dev_handling must be one of"),
        ("put", "/api/v2/rules/1", {"prod_handling": "Page"}, 422, "prod_handling must be one of"),
        ("post", "/api/v2/rules/test", {"event": {"message": "x"}, "rule": {**RULE, "prod_handling": "pager"}}, 422,
         "prod_handling must be one of"),
    ],
)
def test_bad_requests_get_a_clear_4xx(api, operator, method, path, body, status, words):
    response = getattr(api, method)(path, json=body, headers=operator)
    assert response.status_code == status, response.json
    assert words in response.json["error"] and response.json["correlation_id"]


def test_the_catastrophic_pattern_is_answered_at_once_by_the_dry_run(api, reader):
    """(a+)+$ with 34 a's and a '!' held a web thread for hours on Python's re; on RE2 the
    answer is immediate (the bound is structural: tests/unit/mutt_app/core/test_patterns.py)."""
    rule = {**RULE, "match_type": "regex", "match_string": "(a+)+$"}
    for message in ("a" * 34 + "!", "a" * 200_000 + "!"):
        started = time.monotonic()
        answer = api.post("/api/v2/rules/test", json={"event": {"hostname": "h", "message": message}, "rule": rule},
                          headers=reader)
        assert answer.status_code == 200 and answer.json["candidate"]["matches"] is False
        assert time.monotonic() - started < 1.0
    assert api.post("/api/v2/rules/test", json={"event": {"hostname": "h", "message": "a" * 34}, "rule": rule},
                    headers=reader).json["candidate"]["matches"] is True


def test_a_dry_run_over_recent_events_stops_after_its_time_with_what_it_tried(api, reader, redis):
    """Each search is bounded (~100 ms at worst); 2 x 300 of them are not: the dry run over recent
    events stops trying after DRY_RUN_SECONDS and says so, instead of holding the web thread."""
    from mutt_app.alerting import rollup
    rollup.Rollup(redis).remember([{"_id": str(n), "hostname": "h", "message": "ab" * 4096,
                                    "_received_at": f"2026-12-03T10:{n // 60:02d}:{n % 60:02d}+00:00"} for n in range(300)])
    costly = {**RULE, "match_type": "regex", "match_string": "(?:[ab]{0,120}){1,8}[cd]"}  # no literal to index: ~60 ms a search
    started = time.monotonic()
    answer = api.post("/api/v2/rules/test?last=300", json={"rule": costly}, headers=reader)
    elapsed = time.monotonic() - started
    assert answer.status_code == 200 and 0 < answer.json["count"] < 300 and elapsed < dry_run.TIME_LIMIT_SECONDS + 3
    assert answer.json["stopped"].startswith(f"stopped after 2 s: {answer.json['count']} of the 300 most recent events tried")
    cheap = api.post("/api/v2/rules/test?last=300", json={"rule": RULE}, headers=reader).json
    assert cheap["count"] == 300 and "stopped" not in cheap


def test_handling_decisions_are_stored_in_their_canonical_spelling(api, operator):
    created = api.post("/api/v2/rules", json={**RULE, "prod_handling": " page_only ", "dev_handling": "IGNORE"},
                       headers=operator)
    assert created.status_code == 201, created.json
    assert (created.json["rule"]["prod_handling"], created.json["rule"]["dev_handling"]) == ("Page_only", "Ignore")
    assert created.json["rule"]["problem"] is None


def test_scopes(api, reader):
    assert api.get("/api/v2/rules").status_code == 401
    assert api.post("/api/v2/rules", json=RULE, headers=reader).status_code == 403
    assert api.post("/api/v2/dev-hosts", json={"hostname": "h"}, headers=reader).status_code == 403
    assert api.delete("/api/v2/teams/edge-fw-02.edge.example.com", headers=reader).status_code == 403
    assert api.post("/api/v2/rules/test", json={"event": {"message": "x"}}, headers=reader).status_code == 200


def test_hosts_and_teams(api, operator, reader):
    hosts = api.get("/api/v2/dev-hosts", headers=reader).json["hosts"]
    assert [(h["hostname"], h["created_by"]) for h in hosts] == [
        ("dev-router1", "seed"), ("qa-firewall1", "seed"), ("test-switch1", "seed")]
    added = api.post("/api/v2/dev-hosts", json={"hostname": "lab-sw9", "reason": "lab"}, headers=operator)
    assert added.status_code == 201 and "lab-sw9" in [h["hostname"] for h in added.json["hosts"]]
    removed = api.delete("/api/v2/dev-hosts/LAB-SW9", headers=operator)
    assert removed.status_code == 200 and "lab-sw9" not in [h["hostname"] for h in removed.json["hosts"]]
    teams = api.post("/api/v2/teams", json={"hostname": "r9.example.com", "team_assignment": "Voice"}, headers=operator)
    assert teams.status_code == 201
    assert {"r9.example.com": "Voice"}.items() <= {t["hostname"]: t["team_assignment"] for t in teams.json["teams"]}.items()
    changed = api.put("/api/v2/teams/r9.example.com", json={"team_assignment": "Data"}, headers=operator)
    assert changed.status_code == 200 and {t["hostname"]: t["team_assignment"] for t in changed.json["teams"]}["r9.example.com"] == "Data"
    assert api.delete("/api/v1/teams/r9.example.com", headers=operator).status_code == 200
    assert "r9.example.com" not in [t["hostname"] for t in api.get("/api/v2/teams", headers=reader).json["teams"]]


def test_dry_run(api, reader, redis):
    event = {"hostname": "qa-firewall1", "message": "%BGP-5-ADJCHANGE neighbor down"}
    plain = api.post("/api/v2/rules/test", json={"event": event}, headers=reader).json
    assert plain["matched"] is False and plain["environment"] == "dev"
    with_rule = api.post("/api/v2/rules/test", json={"event": event, "rule": RULE}, headers=reader).json
    assert with_rule["rule"]["match_string"] == "BGP-5-ADJCHANGE" and with_rule["candidate"]["wins"]
    assert (with_rule["decision"], with_rule["forwarded"]) == ("Ignore", False)
    assert with_rule["why"] == [{"field": "message", "pattern": "BGP-5-ADJCHANGE", "how": "contains (case-insensitive)",
                                 "found": "BGP-5-ADJCHANGE"}]
    assert redis.get(redis_keys.RULES_VERSION) is None  # nothing changed
    recent = api.post("/api/v2/rules/test?last=10", json={"rule": RULE}, headers=reader)
    assert recent.status_code == 200 and recent.json == {"results": [], "count": 0}
