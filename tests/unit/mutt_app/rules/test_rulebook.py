"""The rule book as the alerter loads it: a stored rule that became invalid is reported, never stops the alerter."""

from __future__ import annotations

import pytest

from mutt_app.alerting import dry_run
from mutt_app.alerting.knowledge import load as load_knowledge
from mutt_app.rules import rule_store, seed, validation
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Rule


def test_stored_rules_that_became_invalid_are_reported_and_never_stop_the_alerter(redis, database_url, caplog):
    """Rows written around validation (hand-written SQL, or an older MUTT on Python's re): a
    regex RE2 refuses is left out of the rule set, a handling typo still matches (audited, not
    forwarded, as before); both are logged at every load and shown as the rule's problem."""
    with session_scope() as session:
        seed.load_if_empty(session)
        base = dict(team_assignment="NetOps", priority=1, moog_severity=3, is_active=True, description="",
                    created_by="sql", updated_by="sql")
        session.add(Rule(name="lookahead", match_type="regex", match_string="BGP(?=-5)", prod_handling="Page_only",
                         dev_handling="Ignore", **base))
        session.add(Rule(name="typo", match_type="contains", match_string="FAN-FAIL", prod_handling="Pgae_only",
                         dev_handling="Ignore", **base))
    caplog.set_level("ERROR", logger="mutt_app.rules.rulebook")
    with session_scope() as session:
        knowledge = load_knowledge(session)
        assert "lookahead" not in [rule.name for rule in knowledge.rules.rules]
        verdict = dry_run.for_event(session, {"hostname": "h", "message": "%BGP-5-ADJCHANGE LINK-DOWN fan FAN-FAIL"})
        assert verdict["rule"]["name"] == "typo" and (verdict["decision"], verdict["forwarded"]) == ("Pgae_only", False)
        problems = {rule.name: rule_store.rule_to_dict(rule)["problem"] for rule in rule_store.list_rules(session)}
    assert "lookahead (?=...) is not supported" in problems["lookahead"]
    assert problems["typo"].startswith("prod_handling must be one of Page_and_ticket, Page_only, Ticket_only, Ignore")
    assert [name for name, problem in problems.items() if problem] == ["lookahead", "typo"]
    logged = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("invalid rule") and "(lookahead) is left out" in line for line in logged)
    assert any("(typo) matches but never forwards" in line for line in logged)
    with session_scope() as session:  # it can be disabled as it is, and is refused when changed otherwise
        typo = next(rule for rule in rule_store.list_rules(session) if rule.name == "typo")
        with pytest.raises(validation.RuleError, match="prod_handling must be one of"):
            rule_store.update_rule(session, typo.id, {"priority": 2}, actor="ann")
        assert rule_store.update_rule(session, typo.id, {"is_active": False}, actor="ann").is_active is False
