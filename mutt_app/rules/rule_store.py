"""The stored rules: list, get, create, update, delete.

Every change is validated (``validation``: a rule that could never work is refused with the
reason), writes a config-audit row in the same transaction, and, once committed, tells every
alerter worker (``rulebook.changed``). Rules are never removed: deleting one sets ``deleted_at``
and ``is_active = false`` (event-audit rows keep pointing at it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutt_app.audit import config_audit
from mutt_app.rules.rulebook import changed
from mutt_app.rules.validation import EDITABLE, MOOG_SEVERITY_NAMES, RuleError, check_whole, stored_rule_problem, validate_rule_fields
from mutt_app.storage.models import Rule

RULES_TABLE = "rules"


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """A rule as the API shows it (v2.5's fields plus MUTT 3's), JSON-ready."""
    return {
        "id": rule.id,
        "name": rule.name,
        "description": rule.description,
        "match_string": rule.match_string,
        "trap_oid": rule.trap_oid,
        "clear_match_string": rule.clear_match_string,
        "clear_trap_oid": rule.clear_trap_oid,
        "syslog_severity": rule.syslog_severity,
        "match_type": rule.match_type,
        "priority": rule.priority,
        "prod_handling": rule.prod_handling,
        "dev_handling": rule.dev_handling,
        "team_assignment": rule.team_assignment,
        "moog_severity": rule.moog_severity,
        "moog_severity_name": MOOG_SEVERITY_NAMES.get(rule.moog_severity, str(rule.moog_severity)),
        "is_active": rule.is_active,
        "created_at": _iso(rule.created_at),
        "updated_at": _iso(rule.updated_at),
        "created_by": rule.created_by,
        "updated_by": rule.updated_by,
        "deleted_at": _iso(rule.deleted_at),
        "problem": stored_rule_problem(rule),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _snapshot(rule: Rule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in EDITABLE} | {"deleted_at": _iso(rule.deleted_at)}


def list_rules(session: Session, include_deleted: bool = False) -> list[Rule]:
    """Rules in matching order: priority, then id."""
    query = select(Rule).order_by(Rule.priority, Rule.id)
    if not include_deleted:
        query = query.where(Rule.deleted_at.is_(None))
    return list(session.scalars(query))


def get_rule(session: Session, rule_id: int, include_deleted: bool = False) -> Rule:
    rule = session.get(Rule, rule_id)
    if rule is None or (rule.deleted_at is not None and not include_deleted):
        raise LookupError(f"rule {rule_id} not found")
    return rule


def create_rule(session: Session, fields: dict[str, Any], *, actor: str, reason: str = "", correlation_id: str = "") -> Rule:
    values = validate_rule_fields(fields)
    rule = Rule(**values, created_by=actor[:120], updated_by=actor[:120])
    session.add(rule)
    session.flush()
    config_audit.record(session, actor=actor, operation="CREATE", table=RULES_TABLE, record_id=rule.id,
                 new=_snapshot(rule), reason=reason, correlation_id=correlation_id)
    changed(session)
    return rule


def update_rule(session: Session, rule_id: int, fields: dict[str, Any], *, actor: str, reason: str = "", correlation_id: str = "") -> Rule:
    rule = get_rule(session, rule_id)
    values = validate_rule_fields(fields, partial=True)
    if not values:
        raise RuleError(f"nothing to change: give one or more of {', '.join(EDITABLE)}")
    old = _snapshot(rule)
    merged = {name: getattr(rule, name) for name in EDITABLE} | values
    check_whole(merged)
    for name, value in merged.items():
        setattr(rule, name, value)
    rule.updated_by = actor[:120]
    rule.updated_at = datetime.now(UTC)
    session.flush()
    config_audit.record(session, actor=actor, operation="UPDATE", table=RULES_TABLE, record_id=rule.id,
                 old=old, new=_snapshot(rule), reason=reason, correlation_id=correlation_id)
    changed(session)
    return rule


def delete_rule(session: Session, rule_id: int, *, actor: str, reason: str = "", correlation_id: str = "") -> Rule:
    """Soft delete: the rule stops matching, its audit trail and history stay."""
    rule = get_rule(session, rule_id)
    old = _snapshot(rule)
    rule.deleted_at = datetime.now(UTC)
    rule.is_active = False
    rule.updated_by = actor[:120]
    session.flush()
    config_audit.record(session, actor=actor, operation="DELETE", table=RULES_TABLE, record_id=rule.id,
                 old=old, new=_snapshot(rule), reason=reason, correlation_id=correlation_id)
    changed(session)
    return rule
