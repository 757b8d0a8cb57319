"""The stored rules, development hosts and device teams: the domain functions behind the REST
API, the UI and the CLI.

Every change is validated (a rule that could never work is refused with the reason), writes a
config-audit row in the same transaction, and, once committed, bumps ``redis_keys.RULES_VERSION`` so
every alerter worker uses it within a second. Rules are never removed: deleting one sets
``deleted_at`` and ``is_active = false`` (event-audit rows keep pointing at it).
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutt_app.audit import config_audit
from mutt_app.core import params
from mutt_app.rules.matcher import MATCH_TYPES, RuleSet, handling, handling_problem, rule_problem, syslog_severity
from mutt_app.rules.matcher import Rule as MatcherRule
from mutt_app.storage import db, redis_keys
from mutt_app.storage.models import HANDLINGS, DevelopmentHost, DeviceTeam, EventAudit, Rule

log = logging.getLogger(__name__)

RULES_TABLE, HOSTS_TABLE, TEAMS_TABLE = "rules", "development_hosts", "device_teams"

# Moogsoft's severities: 0 Clear, 1 Indeterminate, 2 Warning, 3 Minor, 4 Major, 5 Critical.
MOOG_SEVERITIES = {"clear": 0, "indeterminate": 1, "info": 1, "warning": 2, "minor": 3, "major": 4, "critical": 5}
MOOG_SEVERITY_NAMES = {0: "Clear", 1: "Indeterminate", 2: "Warning", 3: "Minor", 4: "Major", 5: "Critical"}

EDITABLE = ("name", "description", "match_string", "trap_oid", "syslog_severity", "match_type", "priority",
            "prod_handling", "dev_handling", "team_assignment", "moog_severity", "is_active")
READ_ONLY = ("id", "created_at", "updated_at", "created_by", "updated_by", "deleted_at", "moog_severity_name", "problem")
REQUIRED = ("prod_handling", "dev_handling", "team_assignment")
INT_MAX = 2**31 - 1
HOSTNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
DRY_RUN_SECONDS = 2.0  # a dry run over recent events stops trying more events after this


class RuleError(ValueError):
    """A change that is refused; the message says why."""


class AlreadyExists(RuleError):
    """The thing to add is already there (HTTP 409)."""


# --- rules -----------------------------------------------------------------------------------


def _text(fields: dict, name: str, limit: int, *, required: bool = False, empty_is_none: bool = False) -> Any:
    value = fields[name]
    if value is None:
        if required:
            raise RuleError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise RuleError(f"{name} must be a string, got {type(value).__name__}")
    value = value.strip() if name != "match_string" else value
    if not value:
        if required:
            raise RuleError(f"{name} must not be empty")
        return None if empty_is_none else ""
    if len(value) > limit:
        raise RuleError(f"{name} is longer than {limit} characters")
    return value


def _integer(fields: dict, name: str, low: int, high: int) -> int:
    value = fields[name]
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RuleError(f"{name} must be an integer, got {type(value).__name__}")
    try:
        number = params.whole_number(value, name)
    except params.ParamError:
        raise RuleError(f"{name} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise RuleError(f"{name} must be between {low} and {high}, got {number}")
    return number


def moog_severity(value: Any) -> int:
    """0-5, or a name (Critical, Major, Minor, Warning, Indeterminate/Info, Clear) -> 0-5."""
    if isinstance(value, str) and value.strip().lower() in MOOG_SEVERITIES:
        return MOOG_SEVERITIES[value.strip().lower()]
    try:
        number = params.whole_number(value, "moog_severity", minimum=0)
    except params.ParamError:
        raise RuleError(f"moog_severity must be 0-5 or one of Critical, Major, Minor, Warning, Info, Clear; got {value!r}") from None
    if number > 5:
        raise RuleError(f"moog_severity must be 0-5, got {number}")
    return number


def validate_rule_fields(fields: Any, partial: bool = False) -> dict[str, Any]:
    """The cleaned, typed rule fields of ``fields``, or RuleError saying what is wrong.

    With ``partial`` only the given fields are checked (an update); the combined rule is checked
    by ``update_rule``. Read-only fields (id, timestamps) are ignored so a GET body can be PUT back.
    """
    if not isinstance(fields, dict):
        raise RuleError("the rule must be a JSON object")
    unknown = sorted(set(fields) - set(EDITABLE) - set(READ_ONLY))
    if unknown:
        raise RuleError(f"unknown field(s): {', '.join(unknown)}; a rule has {', '.join(EDITABLE)}")
    given = {name: fields[name] for name in EDITABLE if name in fields}
    if not partial:
        missing = [name for name in REQUIRED if given.get(name) in (None, "")]
        if missing:
            raise RuleError(f"missing required field(s): {', '.join(missing)}")
    clean: dict[str, Any] = {}
    for name in given:
        if name in ("match_string", "trap_oid"):
            clean[name] = _text(given, name, 255, empty_is_none=True)
        elif name == "name":
            clean[name] = _text(given, name, 120) or None
        elif name == "description":
            clean[name] = _text(given, name, 10_000) or ""
        elif name in ("prod_handling", "dev_handling"):
            value = _text(given, name, 100, required=True)
            clean[name] = handling(value)
            if clean[name] is None:
                raise RuleError(f"{name} must be one of {', '.join(HANDLINGS)} (any case), got {value!r}")
        elif name in REQUIRED:
            clean[name] = _text(given, name, 100, required=True)
        elif name == "match_type":
            value = given[name]
            if value not in MATCH_TYPES:
                raise RuleError(f"match_type must be one of {', '.join(MATCH_TYPES)}, got {value!r}")
            clean[name] = value
        elif name == "syslog_severity":
            value = given[name]
            if value is None or value == "":
                clean[name] = None
            else:
                number = syslog_severity(value)
                if number is None:
                    raise RuleError(f"syslog_severity must be 0-7 or a syslog severity name (Emergency ... Debug), got {value!r}")
                clean[name] = number
        elif name == "priority":
            clean[name] = _integer(given, name, -INT_MAX, INT_MAX)
        elif name == "moog_severity":
            clean[name] = moog_severity(given[name])
        elif name == "is_active":
            if not isinstance(given[name], bool):
                raise RuleError("is_active must be true or false")
            clean[name] = given[name]
    if not partial:
        clean.setdefault("match_type", "contains")
        clean.setdefault("priority", 100)
        clean.setdefault("moog_severity", 3)
        clean.setdefault("is_active", True)
        clean.setdefault("description", "")
        _check_whole(clean)
    return clean


def _check_whole(values: dict[str, Any]) -> None:
    """Refuse a rule that could never match or not compile; give it a name if it has none."""
    if not values.get("match_string") and not values.get("trap_oid"):
        raise RuleError("a rule needs a match_string or a trap_oid (no criteria would match nothing)")
    rule = MatcherRule.of(values)
    problem = rule_problem(rule) or (handling_problem(rule) if rule.is_active else None)  # disabling stays possible
    if problem:
        raise RuleError(problem)
    if not values.get("name"):
        values["name"] = f"{values.get('match_type', 'contains')} {values.get('match_string') or values.get('trap_oid')}"[:120]


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """A rule as the API shows it (v2.5's fields plus MUTT 3's), JSON-ready."""
    return {
        "id": rule.id,
        "name": rule.name,
        "description": rule.description,
        "match_string": rule.match_string,
        "trap_oid": rule.trap_oid,
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


def stored_rule_problem(rule: Rule) -> str | None:
    """Why a stored rule is invalid (written around validation: by hand in SQL, or by an older
    MUTT, e.g. a regex RE2 refuses or a handling typo); None when it is sound."""
    matcher_rule = MatcherRule.of(rule)
    return rule_problem(matcher_rule) or handling_problem(matcher_rule)


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


def changed(session: Session) -> None:
    """Tell every alerter worker, once ``session`` commits, that rules, hosts or teams changed."""
    db.on_commit(session, bump_version)


def bump_version() -> None:
    from mutt_app.storage import redis_client
    try:
        redis_client.get().incr(redis_keys.RULES_VERSION)
    except Exception:  # the change is committed; workers also reload at least every minute
        log.warning("could not bump the rule-set version in Redis; workers reload within a minute", exc_info=True)


def create_rule(session: Session, fields: dict, *, actor: str, reason: str = "", correlation_id: str = "") -> Rule:
    values = validate_rule_fields(fields)
    rule = Rule(**values, created_by=actor[:120], updated_by=actor[:120])
    session.add(rule)
    session.flush()
    config_audit.record(session, actor=actor, operation="CREATE", table=RULES_TABLE, record_id=rule.id,
                 new=_snapshot(rule), reason=reason, correlation_id=correlation_id)
    changed(session)
    return rule


def update_rule(session: Session, rule_id: int, fields: dict, *, actor: str, reason: str = "", correlation_id: str = "") -> Rule:
    rule = get_rule(session, rule_id)
    values = validate_rule_fields(fields, partial=True)
    if not values:
        raise RuleError(f"nothing to change: give one or more of {', '.join(EDITABLE)}")
    old = _snapshot(rule)
    merged = {name: getattr(rule, name) for name in EDITABLE} | values
    _check_whole(merged)
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


# --- development hosts and device teams ------------------------------------------------------


def _hostname(value: Any) -> str:
    if not isinstance(value, str) or not HOSTNAME.match(value.strip()):
        raise RuleError("hostname must be 1-255 characters of letters, digits, '.', '-', '_' or ':'")
    return value.strip()


def _team(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 100:
        raise RuleError("team_assignment must be a non-empty string of at most 100 characters")
    return value.strip()


def _find(session: Session, model, hostname: str):
    """The row for ``hostname``, compared case-insensitively (as matching does)."""
    return session.scalars(select(model).where(func.lower(model.hostname) == hostname.lower())).first()


def list_dev_hosts(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(DevelopmentHost).order_by(DevelopmentHost.hostname))
    return [{"hostname": r.hostname, "created_at": _iso(r.created_at), "created_by": r.created_by} for r in rows]


def add_dev_host(session: Session, hostname: Any, *, actor: str, reason: str = "", correlation_id: str = "") -> dict[str, Any]:
    hostname = _hostname(hostname)
    if _find(session, DevelopmentHost, hostname) is not None:
        raise AlreadyExists(f"{hostname} is already a development host")
    session.add(DevelopmentHost(hostname=hostname, created_by=actor[:120]))
    config_audit.record(session, actor=actor, operation="CREATE", table=HOSTS_TABLE, record_id=hostname,
                 new={"hostname": hostname}, reason=reason, correlation_id=correlation_id)
    session.flush()
    changed(session)
    return {"hostname": hostname}


def remove_dev_host(session: Session, hostname: str, *, actor: str, reason: str = "", correlation_id: str = "") -> None:
    row = _find(session, DevelopmentHost, str(hostname))
    if row is None:
        raise LookupError(f"{hostname} is not a development host")
    config_audit.record(session, actor=actor, operation="DELETE", table=HOSTS_TABLE, record_id=row.hostname,
                 old={"hostname": row.hostname}, reason=reason, correlation_id=correlation_id)
    session.delete(row)
    session.flush()
    changed(session)


def list_teams(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(DeviceTeam).order_by(DeviceTeam.hostname))
    return [{"hostname": r.hostname, "team_assignment": r.team_assignment, "updated_at": _iso(r.updated_at),
             "updated_by": r.updated_by} for r in rows]


def set_team(session: Session, hostname: Any, team: Any, *, actor: str, reason: str = "", correlation_id: str = "",
             must_exist: bool | None = None) -> dict[str, Any]:
    """Assign ``hostname`` to ``team``. ``must_exist``: True = only change (LookupError if none),
    False = only add (AlreadyExists if there is one), None = either."""
    hostname, team = _hostname(hostname), _team(team)
    row = _find(session, DeviceTeam, hostname)
    if row is None and must_exist:
        raise LookupError(f"{hostname} has no device team")
    if row is not None and must_exist is False:
        raise AlreadyExists(f"{row.hostname} already has a device team ({row.team_assignment})")
    if row is None:
        row = DeviceTeam(hostname=hostname, team_assignment=team, updated_by=actor[:120])
        session.add(row)
        config_audit.record(session, actor=actor, operation="CREATE", table=TEAMS_TABLE, record_id=hostname,
                     new={"hostname": hostname, "team_assignment": team}, reason=reason, correlation_id=correlation_id)
    else:
        old = {"hostname": row.hostname, "team_assignment": row.team_assignment}
        row.team_assignment, row.updated_by = team, actor[:120]
        row.updated_at = datetime.now(UTC)
        config_audit.record(session, actor=actor, operation="UPDATE", table=TEAMS_TABLE, record_id=row.hostname,
                     old=old, new={"hostname": row.hostname, "team_assignment": team}, reason=reason,
                     correlation_id=correlation_id)
    session.flush()
    changed(session)
    return {"hostname": row.hostname, "team_assignment": row.team_assignment}


def remove_team(session: Session, hostname: str, *, actor: str, reason: str = "", correlation_id: str = "") -> None:
    row = _find(session, DeviceTeam, str(hostname))
    if row is None:
        raise LookupError(f"{hostname} has no device team")
    config_audit.record(session, actor=actor, operation="DELETE", table=TEAMS_TABLE, record_id=row.hostname,
                 old={"hostname": row.hostname, "team_assignment": row.team_assignment}, reason=reason,
                 correlation_id=correlation_id)
    session.delete(row)
    session.flush()
    changed(session)


# --- what the alerter works with, and the dry run ---------------------------------------------


def load_knowledge(session: Session, version: str | None = None):
    """The active rules compiled, the development hosts and the device teams (alerting.knowledge.Knowledge)."""
    from mutt_app.alerting.knowledge import Knowledge

    rules = []
    for row in session.scalars(select(Rule).where(Rule.is_active.is_(True), Rule.deleted_at.is_(None))):
        # Only possible for a row written around validation (by hand in SQL, or by an older MUTT).
        problem = rule_problem(MatcherRule.of(row))
        if problem:  # cannot be matched (e.g. a regex RE2 refuses): left out, the rest works
            log.error("invalid rule %s (%s) is left out of the rule set: %s", row.id, row.name, problem)
            continue
        problem = handling_problem(MatcherRule.of(row))
        if problem:  # matches, its events are audited and not forwarded (as before); fix it
            log.error("invalid rule %s (%s) matches but never forwards: %s", row.id, row.name, problem)
        rules.append(row)
    hosts = session.scalars(select(DevelopmentHost.hostname))
    teams = session.execute(select(DeviceTeam.hostname, DeviceTeam.team_assignment))
    return Knowledge.build(rules, list(hosts), {host: team for host, team in teams}, version=version)


def dry_run(session: Session, event: Any, rule_fields: dict | None = None) -> dict[str, Any]:
    """What MUTT would do with ``event`` now, without doing it: the matching rule and why, the
    environment, the decision, whether it is forwarded.

    With ``rule_fields`` (a rule being edited; with ``id`` it replaces that stored rule) the
    answer is for the rule set as it would be after saving, and ``candidate`` says whether the
    edited rule matches the event on its own.
    """
    if not isinstance(event, dict):
        raise RuleError("the event must be a JSON object")
    knowledge, candidate = _knowledge_with(session, rule_fields)
    return _verdict(knowledge, event, candidate)


def dry_run_recent(session: Session, last: int, rule_fields: dict | None = None, redis_client=None,
                   seconds: float = DRY_RUN_SECONDS) -> tuple[list[dict[str, Any]], int]:
    """``dry_run`` over the ``last`` most recent events: audited ones (from the database) and
    unhandled ones (the roll-up keeps the latest in Redis), newest first.

    Stops after ``seconds`` (checked between events; one event's searches are bounded by RE2,
    ``mutt_app.core.patterns``), so a costly candidate pattern over many long messages cannot hold the
    request: the verdicts made so far are returned. Returns the verdicts and how many events there
    were to try."""
    from mutt_app.alerting import rollup
    if isinstance(last, bool) or not isinstance(last, int) or not 1 <= last <= 1000:
        raise RuleError("last must be an integer between 1 and 1000")
    audited = [row.event for row in session.scalars(select(EventAudit).order_by(EventAudit.received_at.desc()).limit(last))]
    unhandled = rollup.recent_unhandled(redis_client, last) if redis_client is not None else []
    events = sorted(audited + unhandled, key=lambda e: str(e.get("_received_at", "")), reverse=True)[:last]
    knowledge, candidate = _knowledge_with(session, rule_fields)
    deadline = time.monotonic() + seconds
    verdicts = []
    for event in events:
        if verdicts and time.monotonic() > deadline:
            log.info("dry run stopped after %.1f s: %d of %d events tried", seconds, len(verdicts), len(events))
            break
        verdicts.append(_verdict(knowledge, event, candidate) | {"event": event})
    return verdicts, len(events)


def _knowledge_with(session: Session, rule_fields: dict | None):
    """The stored rule set, with the rule being edited in it (replacing its stored version)."""
    knowledge = load_knowledge(session)
    if rule_fields is None:
        return knowledge, None
    candidate = _candidate_rule(session, rule_fields)
    stored = [rule for rule in knowledge.rules.rules if candidate.id is None or rule.id != candidate.id]
    return knowledge.with_rules(RuleSet([*stored, candidate])), candidate


def _candidate_rule(session: Session, fields: dict) -> MatcherRule:
    if isinstance(fields, dict):
        fields = {name: value for name, value in fields.items() if name != "reason"}  # the editor's form may carry it
    rule_id = fields.get("id") if isinstance(fields, dict) else None
    if rule_id is not None and (isinstance(rule_id, bool) or not isinstance(rule_id, int)):
        raise RuleError("rule id must be an integer (or absent for a new rule)")
    if rule_id is not None:
        stored = get_rule(session, rule_id)
        values = {name: getattr(stored, name) for name in EDITABLE} | validate_rule_fields(fields, partial=True)
        _check_whole(values)
    else:
        values = validate_rule_fields(fields)
    return MatcherRule.of(values | {"id": rule_id, "is_active": True})


def _verdict(knowledge, event: dict, candidate: MatcherRule | None) -> dict[str, Any]:
    from mutt_app.alerting.decide import decide

    match = knowledge.rules.explain(event)
    decision = decide(knowledge, event, match.rule if match else None)
    answer: dict[str, Any] = {
        "matched": match is not None,
        "rule": _rule_summary(match.rule) if match else None,
        "why": [reason.as_dict() for reason in match.why] if match else [],
        "environment": decision.environment,
        "decision": decision.decision,
        "forwarded": decision.forwarded,
        "team": decision.team,
    }
    if candidate is not None:
        own = RuleSet([candidate]).explain(event)
        answer["candidate"] = {
            "matches": own is not None,
            "wins": match is not None and match.rule is candidate,
            "why": [reason.as_dict() for reason in own.why] if own else [],
        }
    return answer


def _rule_summary(rule: MatcherRule) -> dict[str, Any]:
    return {"id": rule.id, "name": rule.name, "priority": rule.priority, "match_type": rule.match_type,
            "match_string": rule.match_string, "trap_oid": rule.trap_oid, "syslog_severity": rule.syslog_severity,
            "team_assignment": rule.team_assignment, "moog_severity": rule.moog_severity}
