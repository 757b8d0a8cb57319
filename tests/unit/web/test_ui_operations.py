"""Operators' pages: rules with the dry run, dev hosts, teams, dead letters."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit, DeadLetter, DeviceTeam, Rule
from tests.support.web import login, make_user, page_token

RULE = {"name": "link down", "match_type": "contains", "match_string": "LINK-3-UPDOWN", "trap_oid": "",
        "clear_match_string": "", "clear_trap_oid": "",
        "syslog_severity": "", "priority": "50", "prod_handling": "Page_and_ticket", "dev_handling": "Ignore",
        "team_assignment": "NETO", "moog_severity": "4", "description": "", "is_active": "on"}
EVENT = {"hostname": "r1", "message": "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down", "syslog_severity": 3}


@pytest.fixture
def operator(client):
    make_user("oscar", "operator")
    login(client, "oscar")
    return client


def post(client, url: str, data: dict, page: str = "/rules"):
    return client.post(url, data={**data, "csrf_token": page_token(client, page)})


def test_new_rule_dry_run_then_save(operator):
    dry = post(operator, "/rules/new", {**RULE, "sample": json.dumps(EVENT), "action": "dry-run"})
    html = dry.get_data(as_text=True)
    assert dry.status_code == 200 and 'id="dry-run-result"' in html
    assert "decision <strong>Page_and_ticket</strong>" in html and "forwarded to Moogsoft" in html
    with session_scope() as session:
        assert session.scalar(select(Rule)) is None  # a dry run saves nothing
    saved = post(operator, "/rules/new", {**RULE, "sample": "", "action": "save", "reason": "CHG-1"})
    assert saved.status_code == 302
    with session_scope() as session:
        rule = session.scalar(select(Rule))
        change = session.scalar(select(ConfigAudit).where(ConfigAudit.table_name == "rules"))
    assert (rule.priority, rule.moog_severity, rule.syslog_severity, rule.is_active) == (50, 4, None, True)
    assert (change.changed_by, change.reason) == ("user:oscar", "CHG-1")
    assert "link down" in operator.get("/rules").get_data(as_text=True)


def test_invalid_rule_and_bad_sample_are_explained(operator):
    bad = post(operator, "/rules/new", {**RULE, "match_string": "", "action": "save"})
    assert bad.status_code == 422 and b"match_string or a trap_oid" in bad.data
    sample = post(operator, "/rules/new", {**RULE, "sample": "{not json", "action": "dry-run"})
    assert sample.status_code == 400 and b"not valid JSON" in sample.data


@pytest.mark.parametrize("field, value, words", [
    ("prod_handling", "Pgae_only", "prod_handling must be one of Page_and_ticket, Page_only, Ticket_only, Ignore"),
    ("dev_handling", "page only", "dev_handling must be one of"),
    ("match_string", "LINK(?!-5)", "lookahead (?!...) is not supported"),
    ("priority", "--5", "priority must be an integer"),
    ("priority", "\u00b2", "priority must be an integer"),
])
def test_a_refused_rule_is_a_form_error_for_save_and_dry_run(operator, field, value, words):
    fields = {**RULE, "match_type": "regex" if field == "match_string" else "contains", field: value}
    for action in ("save", "dry-run"):
        refused = post(operator, "/rules/new", {**fields, "sample": json.dumps(EVENT), "action": action})
        html = refused.get_data(as_text=True)
        assert refused.status_code == 422 and 'id="rule-error"' in html and words in html.replace("&#39;", "'")
    with session_scope() as session:
        assert session.scalar(select(Rule)) is None


def test_the_editor_shows_saves_and_dry_runs_a_clear_pattern(operator):
    paired = {**RULE, "match_type": "regex", "match_string": r"Interface (?P<key>\S+), changed state to down",
              "clear_match_string": r"Interface (?P<key>\S+), changed state to up"}
    up = {**EVENT, "message": "%LINK-3-UPDOWN: Interface Gi0/1, changed state to up"}
    dry = post(operator, "/rules/new", {**paired, "sample": json.dumps(up), "action": "dry-run"})
    html = dry.get_data(as_text=True)
    assert dry.status_code == 200 and "as a <strong>clear</strong>, key Gi0/1" in html
    assert post(operator, "/rules/new", {**paired, "action": "save"}).status_code == 302
    with session_scope() as session:
        rule = session.scalar(select(Rule))
    assert rule.clear_match_string == paired["clear_match_string"] and rule.clear_trap_oid is None
    form = operator.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert r'name="clear_match_string" value="Interface (?P&lt;key&gt;\S+), changed state to up"' in form
    assert r"clear: <code>Interface (?P&lt;key&gt;\S+), changed state to up</code>" in operator.get("/rules").get_data(as_text=True)
    one_sided = post(operator, f"/rules/{rule.id}", {**paired, "clear_match_string": "changed state to up", "action": "save"})
    assert one_sided.status_code == 422 and "clear_match_string does not" in one_sided.get_data(as_text=True)
def test_handling_and_moog_severity_are_chosen_from_the_allowed_values(operator):
    html = operator.get("/rules/new").get_data(as_text=True)
    for name in ("prod_handling", "dev_handling", "moog_severity"):
        assert f'<select name="{name}">' in html and f'<input name="{name}"' not in html
    prod = re.search(r'<select name="prod_handling">(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'<option value="([^"]+)"', prod) == ["Page_and_ticket", "Page_only", "Ticket_only", "Ignore"]
    moog = re.search(r'<select name="moog_severity">(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'<option value="(\d)"', moog) == ["5", "4", "3", "2", "1", "0"]
    assert '<option value="3" selected>3 · Minor</option>' in moog


def test_a_stored_handling_outside_the_list_is_shown_marked_not_replaced(operator):
    with session_scope() as session:
        session.add(Rule(name="legacy", match_type="contains", match_string="X", priority=5, prod_handling="page only",
                         dev_handling="Ignore", team_assignment="NETO", moog_severity=3, is_active=True, created_by="t"))
        session.flush()
        rule_id = session.scalar(select(Rule.id))
    html = operator.get(f"/rules/{rule_id}").get_data(as_text=True)
    assert '<option value="page only" selected>page only (not allowed: choose one)</option>' in html


def test_the_rules_page_flags_a_stored_rule_that_is_invalid(operator):
    with session_scope() as session:
        session.add(Rule(name="typo", match_type="contains", match_string="FAN", prod_handling="Pgae_only",
                         dev_handling="Ignore", team_assignment="T", priority=1, moog_severity=3, is_active=True,
                         description=""))
    html = operator.get("/rules").get_data(as_text=True)
    assert 'class="error rule-problem">invalid: prod_handling must be one of' in html


def test_edit_disable_and_delete_a_rule(operator):
    post(operator, "/rules/new", {**RULE, "action": "save"})
    with session_scope() as session:
        rule_id = session.scalar(select(Rule.id))
    form = operator.get(f"/rules/{rule_id}").get_data(as_text=True)
    assert 'value="LINK-3-UPDOWN"' in form
    post(operator, f"/rules/{rule_id}", {**RULE, "priority": "7", "action": "save"})
    post(operator, f"/rules/{rule_id}/toggle", {})
    with session_scope() as session:
        rule = session.get(Rule, rule_id)
        assert (rule.priority, rule.is_active) == (7, False)
    post(operator, f"/rules/{rule_id}/delete", {})
    assert "LINK-3-UPDOWN" not in operator.get("/rules").get_data(as_text=True)
    assert operator.get("/rules/999").status_code == 404


def test_viewer_sees_rules_but_cannot_change_them(client):
    make_user("vic", "viewer")
    login(client, "vic")
    assert client.get("/rules").status_code == 200
    assert client.get("/rules/new").status_code == 403
    assert post(client, "/rules/new", {**RULE, "action": "save"}).status_code == 403


def test_dev_hosts_and_teams(operator):
    post(operator, "/dev-hosts", {"hostname": "lab-sw1"}, "/dev-hosts")
    assert "lab-sw1" in operator.get("/dev-hosts").get_data(as_text=True)
    again = operator.post("/dev-hosts", data={"hostname": "lab-sw1", "csrf_token": page_token(operator, "/dev-hosts")},
                          follow_redirects=True)
    assert b"already a development host" in again.data
    post(operator, "/dev-hosts/lab-sw1/delete", {}, "/dev-hosts")
    assert "lab-sw1" not in operator.get("/dev-hosts").get_data(as_text=True)
    post(operator, "/teams", {"hostname": "core1", "team_assignment": "CORE"}, "/teams")
    with session_scope() as session:
        assert session.get(DeviceTeam, "core1").team_assignment == "CORE"
    post(operator, "/teams/core1/delete", {}, "/teams")
    with session_scope() as session:
        assert session.get(DeviceTeam, "core1") is None


def test_removing_a_dev_host_or_team_asks_first(operator):
    post(operator, "/dev-hosts", {"hostname": "lab-sw1"}, "/dev-hosts")
    post(operator, "/teams", {"hostname": "core1", "team_assignment": "CORE"}, "/teams")
    assert 'data-confirm="Remove lab-sw1 from the development hosts?' in operator.get("/dev-hosts").get_data(as_text=True)
    assert 'data-confirm="Remove the team of core1?' in operator.get("/teams").get_data(as_text=True)


def test_a_rule_action_returns_to_the_page_and_row_the_operator_was_on(operator):
    post(operator, "/rules/new", {**RULE, "action": "save"})
    with session_scope() as session:
        rule_id = session.scalar(select(Rule.id))
    html = operator.get("/rules").get_data(as_text=True)
    assert f'id="rule-{rule_id}"' in html and '<input type="hidden" name="next" value="/rules?">' in html
    toggled = post(operator, f"/rules/{rule_id}/toggle", {"next": "/rules?page=2"})
    assert toggled.headers["Location"].endswith(f"/rules?page=2#rule-{rule_id}")
    elsewhere = post(operator, f"/rules/{rule_id}/toggle", {"next": "https://evil.example/rules"})
    assert elsewhere.headers["Location"].endswith(f"/rules#rule-{rule_id}")


def test_dead_letter_inspect_replay_and_purge(operator, redis):
    with session_scope() as session:
        dlq.record(session, dlq.EVENT, "e" * 32, dlq.PROCESSING_FAILED, error="boom", payload={**EVENT, "_id": "e" * 32})
        dlq.record(session, dlq.EVENT, "f" * 32, dlq.PROCESSING_FAILED, error="boom", payload={**EVENT, "_id": "f" * 32})
        first, second = session.scalars(select(DeadLetter.id).order_by(DeadLetter.id)).all()
    listing = operator.get("/dead-letters?reason=processing_failed").get_data(as_text=True)
    assert listing.count("processing_failed</td>") == 2
    detail = operator.get(f"/dead-letters/{first}").get_data(as_text=True)
    assert "LINK-3-UPDOWN" in detail and 'id="replay"' in detail
    replayed = post(operator, f"/dead-letters/{first}/replay", {"reason": "fixed"}, "/dead-letters")
    assert replayed.status_code == 302
    with session_scope() as session:
        assert session.get(DeadLetter, first).state == "replayed"
    assert redis.llen("mutt:ingest:buffer") + redis.zcard("mutt:batches:pending") >= 1
    post(operator, f"/dead-letters/{second}/purge", {"reason": "noise"}, "/dead-letters")
    with session_scope() as session:
        assert session.get(DeadLetter, second) is None
        purge = session.scalar(select(ConfigAudit).where(ConfigAudit.table_name == "dead_letters", ConfigAudit.operation == "DELETE"))
    assert purge.reason == "noise" and purge.changed_by == "user:oscar"
    assert operator.get("/dead-letters/99999").status_code == 404
    assert re.search(r"Page 1 of 1", operator.get("/dead-letters?kind=alert").get_data(as_text=True))


def test_viewer_cannot_replay_or_purge(client):
    make_user("vic", "viewer")
    login(client, "vic")
    with session_scope() as session:
        dlq.record(session, dlq.EVENT, "a" * 32, dlq.PROCESSING_FAILED, payload={**EVENT, "_id": "a" * 32})
        letter_id = session.scalar(select(DeadLetter.id))
    page = client.get(f"/dead-letters/{letter_id}").get_data(as_text=True)
    assert 'id="replay"' not in page
    assert post(client, f"/dead-letters/{letter_id}/replay", {}, "/dead-letters").status_code == 403
    assert post(client, f"/dead-letters/{letter_id}/purge", {}, "/dead-letters").status_code == 403
    with session_scope() as session:
        assert session.get(DeadLetter, letter_id).state == "waiting"


def test_heartbeats_page_adds_shows_quiet_sources_and_removes(operator, redis):
    from datetime import UTC, datetime

    from mutt_app.storage import redis_keys
    from mutt_app.storage.models import Heartbeat

    post(operator, "/heartbeats", {"kind": "hostname", "name": "Edge-1", "interval_seconds": "120", "severity": "",
                                   "comment": "site uplink", "reason": "outage last week"}, "/heartbeats")
    html = operator.get("/heartbeats").get_data(as_text=True)
    assert "<td>120 s</td>" in html and "<td>never</td>" in html and ">ok<" in html
    refused = operator.post("/heartbeats", data={"kind": "hostname", "name": "x", "interval_seconds": "5", "comment": "c",
                                                 "csrf_token": page_token(operator, "/heartbeats")}, follow_redirects=True)
    assert b"interval_seconds must be between 10" in refused.data
    redis.zadd(redis_keys.HEARTBEATS_LAST_SEEN, {"hostname:edge-1": 1_800_000_000_000})
    with session_scope() as session:
        row = session.scalars(select(Heartbeat)).one()
        row.alerted_at = row.quiet_since = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
        heartbeat_id = row.id
    html = operator.get("/heartbeats").get_data(as_text=True)
    assert "2027-01-15T08:00:00" in html and "quiet since 2027-01-15T08:00:00+00:00" in html
    post(operator, f"/heartbeats/{heartbeat_id}/delete", {}, "/heartbeats")
    assert "edge-1" not in operator.get("/heartbeats").get_data(as_text=True)
