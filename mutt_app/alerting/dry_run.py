"""The dry run: what MUTT would do with an event now, without doing it (the rule editor, the
UI's test box, POST /api/v2/rules/dry-run), with the stored rule book or with a rule being edited
in it."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutt_app.alerting import rollup
from mutt_app.alerting.decide import decide
from mutt_app.alerting.knowledge import Knowledge
from mutt_app.alerting.knowledge import load as load_knowledge
from mutt_app.rules.matcher import Rule as MatcherRule
from mutt_app.rules.matcher import RuleSet
from mutt_app.rules.rule_store import get_rule
from mutt_app.rules.validation import EDITABLE, RuleError, check_whole, validate_rule_fields
from mutt_app.storage.models import EventAudit

log = logging.getLogger(__name__)

TIME_LIMIT_SECONDS = 2.0  # a dry run over recent events stops trying more events after this


def for_event(session: Session, event: Any, rule_fields: dict | None = None) -> dict[str, Any]:
    """What MUTT would do with ``event`` now, without doing it: the matching rule and why, whether
    the event is the rule's problem or its clear and the key that pairs the two, the environment,
    the decision, whether it is forwarded.

    With ``rule_fields`` (a rule being edited; with ``id`` it replaces that stored rule) the
    answer is for the rule set as it would be after saving, and ``candidate`` says whether the
    edited rule matches the event on its own.
    """
    if not isinstance(event, dict):
        raise RuleError("the event must be a JSON object")
    knowledge, candidate = _knowledge_with(session, rule_fields)
    return _verdict(knowledge, event, candidate)


def for_recent_events(session: Session, last: int, rule_fields: dict | None = None, redis_client=None,
                   seconds: float = TIME_LIMIT_SECONDS) -> tuple[list[dict[str, Any]], int]:
    """``for_event`` over the ``last`` most recent events: audited ones (from the database) and
    unhandled ones (the roll-up keeps the latest in Redis), newest first.

    Stops after ``seconds`` (checked between events; one event's searches are bounded by RE2,
    ``mutt_app.core.patterns``), so a costly candidate pattern over many long messages cannot hold the
    request: the verdicts made so far are returned. Returns the verdicts and how many events there
    were to try."""
    if isinstance(last, bool) or not isinstance(last, int) or not 1 <= last <= 1000:
        raise RuleError("last must be an integer between 1 and 1000")
    audited = [row.event for row in session.scalars(select(EventAudit).order_by(EventAudit.received_at.desc()).limit(last))]
    unhandled = rollup.recent_unhandled(redis_client, last) if redis_client is not None else []
    # unhandled events have audit rows (issue 20); the roll-up's list may hold older ones, not audited
    by_id = {str(event.get("_id", id(event))): event for event in unhandled + audited}
    events = sorted(by_id.values(), key=lambda e: str(e.get("_received_at", "")), reverse=True)[:last]
    knowledge, candidate = _knowledge_with(session, rule_fields)
    deadline = time.monotonic() + seconds
    verdicts: list[dict[str, Any]] = []
    for event in events:
        if verdicts and time.monotonic() > deadline:
            log.info("dry run stopped after %.1f s: %d of %d events tried", seconds, len(verdicts), len(events))
            break
        verdicts.append(_verdict(knowledge, event, candidate) | {"event": event})
    return verdicts, len(events)


def _knowledge_with(session: Session, rule_fields: dict | None) -> tuple[Knowledge, MatcherRule | None]:
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
        check_whole(values)
    else:
        values = validate_rule_fields(fields)
    return MatcherRule.of(values | {"id": rule_id, "is_active": True})


def _verdict(knowledge: Knowledge, event: dict, candidate: MatcherRule | None) -> dict[str, Any]:
    match = knowledge.rules.explain(event)
    decision = decide(knowledge, event, match.rule if match else None)
    answer: dict[str, Any] = {
        "matched": match is not None,
        "rule": _rule_summary(match.rule) if match else None,
        "why": [reason.as_dict() for reason in match.why] if match else [],
        "clears": match.clears if match else False,  # matched the rule's clear pattern (or a resolved Alertmanager alert)
        "key": match.key if match else None,          # pairs a clear with its problem; None: the message fingerprint
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
            "clears": own.clears if own else False,
            "key": own.key if own else None,
        }
    return answer


def _rule_summary(rule: MatcherRule) -> dict[str, Any]:
    return {"id": rule.id, "name": rule.name, "priority": rule.priority, "match_type": rule.match_type,
            "match_string": rule.match_string, "trap_oid": rule.trap_oid, "syslog_severity": rule.syslog_severity,
            "clear_match_string": rule.clear_match_string, "clear_trap_oid": rule.clear_trap_oid,
            "team_assignment": rule.team_assignment, "moog_severity": rule.moog_severity}
