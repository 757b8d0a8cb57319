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
        assert wins["rule"]["name"] == "Gi0/1" and wins["candidate"] == {"matches": True, "wins": True, "why": wins["why"]}
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
