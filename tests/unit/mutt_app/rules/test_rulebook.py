"""Stored rules, development hosts and device teams: validation, audit, soft delete, reload signal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mutt_app.rules import rulebook, seed
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit, Rule

GOOD = {"match_string": "LINK-DOWN", "prod_handling": "Page_and_ticket", "dev_handling": "Ignore",
        "team_assignment": "NetOps"}


@pytest.mark.parametrize(
    "fields, message",
    [
        ({**GOOD, "match_type": "regex", "match_string": "(oops"}, "not a valid regular expression"),
        ({k: v for k, v in GOOD.items() if k != "match_string"}, "needs a match_string or a trap_oid"),
        ({**GOOD, "match_string": ""}, "needs a match_string or a trap_oid"),
        ({**GOOD, "syslog_severity": 8}, "syslog_severity must be 0-7"),
        ({**GOOD, "syslog_severity": "loud"}, "syslog_severity must be 0-7"),
        ({**GOOD, "match_type": "glob"}, "match_type must be one of"),
        ({**GOOD, "moog_severity": 6}, "moog_severity must be 0-5"),
        ({**GOOD, "moog_severity": "Catastrophic"}, "moog_severity must be 0-5 or one of"),
        ({**GOOD, "prod_handling": ""}, "missing required field(s): prod_handling"),
        ({**GOOD, "team_assignment": None}, "missing required field(s): team_assignment"),
        ({**GOOD, "priority": "high"}, "priority must be an integer"),
        ({**GOOD, "priority": True}, "priority must be an integer"),
        ({**GOOD, "is_active": "yes"}, "is_active must be true or false"),
        ({**GOOD, "colour": "red"}, "unknown field(s): colour"),
        ({**GOOD, "match_type": "oid_prefix", "trap_oid": "1.3"}, "trap_oid only"),
        ({**GOOD, "match_type": "oid_prefix", "match_string": None}, "needs a match_string or a trap_oid"),
        ({**GOOD, "match_string": "x" * 256}, "longer than 255"),
        ([1, 2], "JSON object"),
    ],
)
def test_invalid_rules_are_refused_with_the_reason(fields, message):
    with pytest.raises(rulebook.RuleError) as refused:
        rulebook.validate_rule_fields(fields)
    assert message in str(refused.value)


def test_names_and_numbers_are_normalised():
    clean = rulebook.validate_rule_fields({**GOOD, "syslog_severity": "Error", "moog_severity": "Major", "id": 9})
    assert (clean["syslog_severity"], clean["moog_severity"], clean["priority"], clean["match_type"]) == (3, 4, 100, "contains")
    assert clean["name"] == "contains LINK-DOWN" and "id" not in clean
    assert rulebook.moog_severity("info") == 1 and rulebook.moog_severity("0") == 0


def audit_rows(table):
    with session_scope() as session:
        return [(r.operation, r.record_id, r.changed_by, r.reason, r.old_values, r.new_values)
                for r in session.scalars(select(ConfigAudit).where(ConfigAudit.table_name == table).order_by(ConfigAudit.id))]


def test_rule_lifecycle_audited_and_versioned(redis, database_url):
    with session_scope() as session:
        rule = rulebook.create_rule(session, {**GOOD, "name": "Links"}, actor="user:ann", reason="new", correlation_id="c1")
        assert redis.get(redis_keys.RULES_VERSION) is None  # not before the commit
    assert redis.get(redis_keys.RULES_VERSION) == "1"
    with session_scope() as session:
        with pytest.raises(rulebook.RuleError, match="not a valid regular expression"):
            rulebook.update_rule(session, rule.id, {"match_type": "regex", "match_string": "(x"}, actor="user:ann")
    with session_scope() as session:
        changed = rulebook.update_rule(session, rule.id, {"priority": 1, "match_type": "regex", "match_string": r"link-\w+"},
                                       actor="user:bob", reason="tighter")
        assert changed.priority == 1 and changed.updated_by == "user:bob"
    with session_scope() as session:
        with pytest.raises(rulebook.RuleError, match="nothing to change"):
            rulebook.update_rule(session, rule.id, {}, actor="x")
        with pytest.raises(LookupError):
            rulebook.update_rule(session, 999, {"priority": 1}, actor="x")
    with session_scope() as session:
        rulebook.delete_rule(session, rule.id, actor="user:ann", reason="gone")
    with session_scope() as session:
        assert rulebook.list_rules(session) == []
        kept = rulebook.list_rules(session, include_deleted=True)
        assert [(r.id, r.is_active, r.deleted_at is not None) for r in kept] == [(rule.id, False, True)]
        with pytest.raises(LookupError):
            rulebook.get_rule(session, rule.id)
        assert rulebook.load_knowledge(session).rules.rules == ()
    assert redis.get(redis_keys.RULES_VERSION) == "3"  # the refused update bumped nothing
    rows = audit_rows("rules")
    assert [(op, rid, who, why) for op, rid, who, why, _, _ in rows] == [
        ("CREATE", str(rule.id), "user:ann", "new"), ("UPDATE", str(rule.id), "user:bob", "tighter"),
        ("DELETE", str(rule.id), "user:ann", "gone")]
    assert rows[1][4]["match_type"] == "contains" and rows[1][5]["match_string"] == r"link-\w+"
    assert rows[2][4]["is_active"] is True and rows[2][5]["is_active"] is False


def test_hosts_and_teams(redis, database_url):
    with session_scope() as session:
        rulebook.add_dev_host(session, "dev-router1", actor="a")
        rulebook.set_team(session, "core-1.example.com", "NetOps", actor="a", must_exist=False)
    with session_scope() as session:
        with pytest.raises(rulebook.AlreadyExists):
            rulebook.add_dev_host(session, "DEV-ROUTER1", actor="a")
    with session_scope() as session:
        with pytest.raises(rulebook.AlreadyExists):
            rulebook.set_team(session, "CORE-1.example.com", "Other", actor="a", must_exist=False)
    with session_scope() as session:
        with pytest.raises(rulebook.RuleError):
            rulebook.add_dev_host(session, "bad host!", actor="a")
        with pytest.raises(LookupError):
            rulebook.remove_dev_host(session, "nope", actor="a")
        with pytest.raises(LookupError):
            rulebook.set_team(session, "nope", "X", actor="a", must_exist=True)
        rulebook.set_team(session, "core-1.example.com", "Security", actor="b", reason="moved")
    with session_scope() as session:
        assert [h["hostname"] for h in rulebook.list_dev_hosts(session)] == ["dev-router1"]
        assert [(t["hostname"], t["team_assignment"]) for t in rulebook.list_teams(session)] == [("core-1.example.com", "Security")]
        knowledge = rulebook.load_knowledge(session)
        assert knowledge.environment("DEV-ROUTER1.lab.example.com") == "dev"
        assert knowledge.environment("dev-router10") == "prod"
        assert knowledge.team_for("CORE-1.example.com") == "Security"
        rulebook.remove_dev_host(session, "Dev-Router1", actor="a")
        rulebook.remove_team(session, "core-1.example.com", actor="a")
    with session_scope() as session:
        assert rulebook.list_dev_hosts(session) == [] and rulebook.list_teams(session) == []
    assert [op for op, *_ in audit_rows("development_hosts")] == ["CREATE", "DELETE"]
    assert [op for op, *_ in audit_rows("device_teams")] == ["CREATE", "UPDATE", "DELETE"]
    assert redis.get(redis_keys.RULES_VERSION) == "5"


def test_dry_run_with_the_seed_data_and_a_candidate_rule(redis, sqlite_url):
    with session_scope() as session:
        seed.load_if_empty(session)
    with session_scope() as session:
        verdict = rulebook.dry_run(session, {"hostname": "dev-router1.lab", "message": "Gi0/1 LINK-DOWN"})
        assert verdict["rule"]["name"] == "Link down" and verdict["environment"] == "dev"
        assert (verdict["decision"], verdict["forwarded"], verdict["team"]) == ("Ticket_only", True, "NetOps")
        assert verdict["why"][0]["field"] == "message" and verdict["why"][0]["found"] == "LINK-DOWN"
        none = rulebook.dry_run(session, {"hostname": "core-router-01.dc1.example.com", "message": "all fine"})
        assert (none["matched"], none["decision"], none["forwarded"], none["team"]) == (False, "unhandled", False, "NetOps")
        # a new rule at priority 1 would win; the same rule at 99 would match but lose to "Link down"
        candidate = {**GOOD, "match_string": "gi0/1", "priority": 1, "name": "Gi0/1"}
        wins = rulebook.dry_run(session, {"hostname": "h", "message": "Gi0/1 LINK-DOWN"}, candidate)
        assert wins["rule"]["name"] == "Gi0/1" and wins["candidate"] == {"matches": True, "wins": True, "why": wins["why"]}
        loses = rulebook.dry_run(session, {"hostname": "h", "message": "Gi0/1 LINK-DOWN"}, {**candidate, "priority": 99})
        assert loses["rule"]["name"] == "Link down" and loses["candidate"]["matches"] and not loses["candidate"]["wins"]
        # editing the stored rule: its new version replaces the old one
        link = next(r for r in rulebook.list_rules(session) if r.name == "Link down")
        edited = rulebook.dry_run(session, {"hostname": "h", "message": "LINK-DOWN"}, {"id": link.id, "match_string": "LINK-UP"})
        assert edited["matched"] is False and edited["candidate"]["matches"] is False
        with pytest.raises(rulebook.RuleError):
            rulebook.dry_run(session, {"message": "x"}, {**GOOD, "match_type": "regex", "match_string": "("})
        count = session.scalar(select(Rule.id).order_by(Rule.id.desc()))
    assert count == len(seed.RULES)  # nothing was saved


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
        knowledge = rulebook.load_knowledge(session)
        assert "lookahead" not in [rule.name for rule in knowledge.rules.rules]
        verdict = rulebook.dry_run(session, {"hostname": "h", "message": "%BGP-5-ADJCHANGE LINK-DOWN fan FAN-FAIL"})
        assert verdict["rule"]["name"] == "typo" and (verdict["decision"], verdict["forwarded"]) == ("Pgae_only", False)
        problems = {rule.name: rulebook.rule_to_dict(rule)["problem"] for rule in rulebook.list_rules(session)}
    assert "lookahead (?=...) is not supported" in problems["lookahead"]
    assert problems["typo"].startswith("prod_handling must be one of Page_and_ticket, Page_only, Ticket_only, Ignore")
    assert [name for name, problem in problems.items() if problem] == ["lookahead", "typo"]
    logged = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("invalid rule") and "(lookahead) is left out" in line for line in logged)
    assert any("(typo) matches but never forwards" in line for line in logged)
    with session_scope() as session:  # it can be disabled as it is, and is refused when changed otherwise
        typo = next(rule for rule in rulebook.list_rules(session) if rule.name == "typo")
        with pytest.raises(rulebook.RuleError, match="prod_handling must be one of"):
            rulebook.update_rule(session, typo.id, {"priority": 2}, actor="ann")
        assert rulebook.update_rule(session, typo.id, {"is_active": False}, actor="ann").is_active is False
