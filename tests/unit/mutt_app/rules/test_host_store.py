"""Development hosts and device teams: case-insensitive, validated, audited, announced after the commit."""

from __future__ import annotations

import pytest

from mutt_app.alerting.knowledge import load as load_knowledge
from mutt_app.rules import host_store, validation
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from tests.support.rules import audit_rows


def test_hosts_and_teams(redis, database_url):
    with session_scope() as session:
        host_store.add_dev_host(session, "dev-router1", actor="a")
        host_store.set_team(session, "core-1.example.com", "NetOps", actor="a", must_exist=False)
    with session_scope() as session:
        with pytest.raises(validation.AlreadyExists):
            host_store.add_dev_host(session, "DEV-ROUTER1", actor="a")
    with session_scope() as session:
        with pytest.raises(validation.AlreadyExists):
            host_store.set_team(session, "CORE-1.example.com", "Other", actor="a", must_exist=False)
    with session_scope() as session:
        with pytest.raises(validation.RuleError):
            host_store.add_dev_host(session, "bad host!", actor="a")
        with pytest.raises(LookupError):
            host_store.remove_dev_host(session, "nope", actor="a")
        with pytest.raises(LookupError):
            host_store.set_team(session, "nope", "X", actor="a", must_exist=True)
        host_store.set_team(session, "core-1.example.com", "Security", actor="b", reason="moved")
    with session_scope() as session:
        assert [h["hostname"] for h in host_store.list_dev_hosts(session)] == ["dev-router1"]
        assert [(t["hostname"], t["team_assignment"]) for t in host_store.list_teams(session)] == [("core-1.example.com", "Security")]
        knowledge = load_knowledge(session)
        assert knowledge.environment("DEV-ROUTER1.lab.example.com") == "dev"
        assert knowledge.environment("dev-router10") == "prod"
        assert knowledge.team_for("CORE-1.example.com") == "Security"
        host_store.remove_dev_host(session, "Dev-Router1", actor="a")
        host_store.remove_team(session, "core-1.example.com", actor="a")
    with session_scope() as session:
        assert host_store.list_dev_hosts(session) == [] and host_store.list_teams(session) == []
    assert [op for op, *_ in audit_rows("development_hosts")] == ["CREATE", "DELETE"]
    assert [op for op, *_ in audit_rows("device_teams")] == ["CREATE", "UPDATE", "DELETE"]
    assert redis.get(redis_keys.RULES_VERSION) == "5"
