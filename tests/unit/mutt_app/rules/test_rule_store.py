"""Stored rules: created, updated, soft-deleted; each change validated, audited, announced after the commit."""

from __future__ import annotations

import pytest

from mutt_app.alerting.knowledge import load as load_knowledge
from mutt_app.rules import rule_store, validation
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from tests.support.rules import GOOD_RULE, audit_rows


def test_rule_lifecycle_audited_and_versioned(redis, database_url):
    with session_scope() as session:
        rule = rule_store.create_rule(session, {**GOOD_RULE, "name": "Links"}, actor="user:ann", reason="new", correlation_id="c1")
        assert redis.get(redis_keys.RULES_VERSION) is None  # not before the commit
    assert redis.get(redis_keys.RULES_VERSION) == "1"
    with session_scope() as session:
        with pytest.raises(validation.RuleError, match="not a valid regular expression"):
            rule_store.update_rule(session, rule.id, {"match_type": "regex", "match_string": "(x"}, actor="user:ann")
    with session_scope() as session:
        changed = rule_store.update_rule(session, rule.id, {"priority": 1, "match_type": "regex", "match_string": r"link-\w+"},
                                       actor="user:bob", reason="tighter")
        assert changed.priority == 1 and changed.updated_by == "user:bob"
    with session_scope() as session:
        with pytest.raises(validation.RuleError, match="nothing to change"):
            rule_store.update_rule(session, rule.id, {}, actor="x")
        with pytest.raises(LookupError):
            rule_store.update_rule(session, 999, {"priority": 1}, actor="x")
    with session_scope() as session:
        rule_store.delete_rule(session, rule.id, actor="user:ann", reason="gone")
    with session_scope() as session:
        assert rule_store.list_rules(session) == []
        kept = rule_store.list_rules(session, include_deleted=True)
        assert [(r.id, r.is_active, r.deleted_at is not None) for r in kept] == [(rule.id, False, True)]
        with pytest.raises(LookupError):
            rule_store.get_rule(session, rule.id)
        assert load_knowledge(session).rules.rules == ()
    assert redis.get(redis_keys.RULES_VERSION) == "3"  # the refused update bumped nothing
    rows = audit_rows("rules")
    assert [(op, rid, who, why) for op, rid, who, why, _, _ in rows] == [
        ("CREATE", str(rule.id), "user:ann", "new"), ("UPDATE", str(rule.id), "user:bob", "tighter"),
        ("DELETE", str(rule.id), "user:ann", "gone")]
    assert rows[1][4]["match_type"] == "contains" and rows[1][5]["match_string"] == r"link-\w+"
    assert rows[2][4]["is_active"] is True and rows[2][5]["is_active"] is False
