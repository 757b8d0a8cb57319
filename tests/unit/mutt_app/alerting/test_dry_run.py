"""The dry run: what MUTT would do with an event, with the stored rules or a rule being edited, saving nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mutt_app.alerting import dry_run
from mutt_app.rules import rule_store, seed, validation
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Rule
from tests.support.rules import GOOD_RULE


def test_dry_run_with_the_seed_data_and_a_candidate_rule(redis, sqlite_url):
    with session_scope() as session:
        seed.load_if_empty(session)
    with session_scope() as session:
        verdict = dry_run.for_event(session, {"hostname": "dev-router1.lab", "message": "Gi0/1 LINK-DOWN"})
        assert verdict["rule"]["name"] == "Link down" and verdict["environment"] == "dev"
        assert (verdict["decision"], verdict["forwarded"], verdict["team"]) == ("Ticket_only", True, "NetOps")
        assert verdict["why"][0]["field"] == "message" and verdict["why"][0]["found"] == "LINK-DOWN"
        none = dry_run.for_event(session, {"hostname": "core-router-01.dc1.example.com", "message": "all fine"})
        assert (none["matched"], none["decision"], none["forwarded"], none["team"]) == (False, "unhandled", False, "NetOps")
        # a new rule at priority 1 would win; the same rule at 99 would match but lose to "Link down"
        candidate = {**GOOD_RULE, "match_string": "gi0/1", "priority": 1, "name": "Gi0/1"}
        wins = dry_run.for_event(session, {"hostname": "h", "message": "Gi0/1 LINK-DOWN"}, candidate)
        assert wins["rule"]["name"] == "Gi0/1"
        assert wins["candidate"] == {"matches": True, "wins": True, "why": wins["why"], "clears": False, "key": None}
        loses = dry_run.for_event(session, {"hostname": "h", "message": "Gi0/1 LINK-DOWN"}, {**candidate, "priority": 99})
        assert loses["rule"]["name"] == "Link down" and loses["candidate"]["matches"] and not loses["candidate"]["wins"]
        # editing the stored rule: its new version replaces the old one
        link = next(r for r in rule_store.list_rules(session) if r.name == "Link down")
        edited = dry_run.for_event(session, {"hostname": "h", "message": "LINK-DOWN"}, {"id": link.id, "match_string": "LINK-UP"})
        assert edited["matched"] is False and edited["candidate"]["matches"] is False
        with pytest.raises(validation.RuleError):
            dry_run.for_event(session, {"message": "x"}, {**GOOD_RULE, "match_type": "regex", "match_string": "("})
        count = session.scalar(select(Rule.id).order_by(Rule.id.desc()))
    assert count == len(seed.RULES)  # nothing was saved


def test_dry_run_says_whether_each_event_is_a_problem_or_a_clear_and_its_key(redis, sqlite_url):
    with session_scope() as session:
        seed.load_if_empty(session)
    down = {"hostname": "r1", "message": "%LINK-3-UPDOWN: Interface Gi0/3, changed state to down"}
    up = {"hostname": "r1", "message": "%LINK-3-UPDOWN: Interface Gi0/3, changed state to up"}
    link_up = {"hostname": "sw1", "trap_oid": "1.3.6.1.6.3.1.1.5.4", "message": "linkUp",
               "variables": [{"oid": "1.3.6.1.2.1.2.2.1.1.12", "value": 12}]}
    with session_scope() as session:
        verdicts = [dry_run.for_event(session, event) for event in (down, up, link_up)]
        assert [(v["rule"]["name"], v["clears"], v["key"]) for v in verdicts] == [
            ("Cisco interface down / up", False, "Gi0/3"),
            ("Cisco interface down / up", True, "Gi0/3"),
            ("SNMP linkDown / linkUp", True, "12"),
        ]
        assert verdicts[1]["rule"]["clear_match_string"].endswith("changed state to up")
        # a rule being edited: its clear pattern is tried as it would be after saving
        candidate = {**GOOD_RULE, "match_string": "fan 2 failed", "clear_match_string": "fan 2 ok", "priority": 1}
        edited = dry_run.for_event(session, {"hostname": "h", "message": "FAN 2 OK"}, candidate)
        assert edited["candidate"] == {"matches": True, "wins": True, "why": edited["why"], "clears": True, "key": None}


def test_the_dry_run_over_recent_events_tries_an_unhandled_event_once(redis, sqlite_url):
    """An unhandled event is in the audit (since issue 20) and in the roll-up's recent list: once."""
    from datetime import UTC, datetime

    from mutt_app.alerting.rollup import Rollup
    from mutt_app.storage.models import EventAudit

    now = datetime.now(UTC)
    unhandled = {"_id": "u1", "_received_at": now.isoformat(), "hostname": "edge-sw-07", "message": "fan tray 2 failed"}
    older = {"_id": "u0", "_received_at": "2026-01-01T00:00:00+00:00", "hostname": "edge-sw-07", "message": "before"}
    with session_scope() as session:
        seed.load_if_empty(session)
        session.add(EventAudit(event_id="u1", received_at=now, event_time=None, hostname="edge-sw-07", rule_id=None,
                               rule_name="", environment="prod", decision="unhandled", forwarded=False, team="",
                               correlation_id="", event=unhandled))
    Rollup(redis).remember([older, unhandled])   # older: audited before unhandled events had rows
    with session_scope() as session:
        verdicts, tried = dry_run.for_recent_events(session, 10, redis_client=redis)
    assert tried == 2 and [v["event"]["_id"] for v in verdicts] == ["u1", "u0"]
    assert all(v["decision"] == "unhandled" for v in verdicts)
