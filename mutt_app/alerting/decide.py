"""What events mean: rule, environment, decision; the audit rows and alerts that follow.

Pure: given the compiled rules, development hosts and device teams (``Knowledge``) and a batch
of canonical events, ``process`` returns the event-audit rows (one per event: matched, silenced
or unhandled, so every event can be found), the alerts to raise, the unhandled events, and the
events it could not process (each with its error), so one bad event never sinks its batch.
What then happens to the batch (storing, handing off, completing) is
``mutt_app.alerting.lifecycle``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mutt_app.alerting import alert_state
from mutt_app.alerting.knowledge import DEV, Knowledge
from mutt_app.alerting.rollup import Trigger, fingerprint
from mutt_app.rules.matcher import Classified, Rule
from mutt_app.storage.models import HANDLINGS

FORWARDING = frozenset(handling.lower() for handling in HANDLINGS if handling != "Ignore")
UNHANDLED = "unhandled"
SILENCED = "silenced"           # a silence muted the event: audited with its silence_id, not forwarded
META_DECISION = "ticket_only"   # a meta-alert asks for a ticket, not a page
META_SEVERITY = 2               # Moogsoft Warning, as v2.5
# What an event-audit row's decision can say (the event search offers these)
DECISIONS = (*HANDLINGS, SILENCED, UNHANDLED, *sorted(alert_state.NOT_SENT))


@dataclass(frozen=True)
class Decision:
    environment: str
    decision: str
    forwarded: bool
    team: str


def forwards(decision: str) -> bool:
    return decision.strip().lower() in FORWARDING


def decide(knowledge: Knowledge, event: dict[str, Any], rule: Rule | None) -> Decision:
    """Environment, decision and team for ``event`` matched by ``rule`` (None: unhandled).

    The team paged is the host's device team when it has one, else the rule's team: the rule
    says what kind of problem it is, the device team says who owns that box.
    """
    environment = knowledge.environment(event.get("hostname"))
    device_team = knowledge.team_for(event.get("hostname"))
    if rule is None:
        return Decision(environment, UNHANDLED, False, device_team or "")
    decision = rule.dev_handling if environment == DEV else rule.prod_handling
    return Decision(environment, decision, forwards(decision), device_team or rule.team_assignment)


@dataclass(frozen=True)
class Signal:
    """A forwarded event (or a meta-alert) on its way to the alert of its signature: the outbox row
    it sends if the alert's state machine says to send (``mutt_app.alerting.alert_state``)."""

    alert: dict[str, Any]       # the outbox row; its id is the event's id
    clears: bool
    key: str
    event_time: datetime        # the event's own time, else when it was received
    audited: bool = True        # False for a meta-alert: its event has no audit row


def audited(rows: Iterable[dict[str, Any]]) -> int:
    """How many of these audit rows are of events a rule matched or a silence muted (the batch's
    "audited" count, as before unhandled events had rows of their own; they count "unhandled")."""
    return sum(1 for row in rows if row["decision"] != UNHANDLED)


@dataclass
class Outcome:
    audit_rows: list[dict[str, Any]] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)   # for the lifecycle, which decides the alerts
    alerts: list[dict[str, Any]] = field(default_factory=list)   # the outbox rows to write and forward
    unhandled: list[dict[str, Any]] = field(default_factory=list)
    failed: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)   # (event ref, event, error)


def event_ref(event: Any) -> str:
    """The event's id, or (for an event without one) a stable digest of it."""
    if isinstance(event, dict) and isinstance(event.get("_id"), str) and event["_id"]:
        return str(event["_id"][:64])
    return "sha1-" + hashlib.sha1(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()


def as_dead_letter(event: Any) -> dict[str, Any]:
    """The event as a dead letter's payload (an event that is not a JSON object is wrapped)."""
    return event if isinstance(event, dict) else {"event": event}


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def signature(kind: str, key: Any, hostname: str, message: str, pair_key: str | None = None) -> str:
    """Moogsoft's de-duplication key and the alert's identity: ``mutt:<kind>:<id>:<host>:<key>``, the
    key being what the rule's pattern extracted (``pair_key``) or, failing that, the message's
    fingerprint."""
    return f"mutt:{kind}:{key}:{hostname.lower()[:180]}:{pair_key[:60] if pair_key else fingerprint(message)}"


WHOLE_HOST = "*"   # the key of a rule with a clear pattern that extracts none: one alert per rule and host


def pair_key(classified: Classified) -> str | None:
    """What pairs an event with its alert: the key its pattern extracted; for a rule with a clear
    pattern that extracted none, the rule and host alone (else "peer down" and "peer up" would never
    meet); else None, and the message's fingerprint tells alerts apart."""
    if classified.key is not None:
        return classified.key
    rule = classified.rule
    return WHOLE_HOST if rule.clear_match_string or rule.clear_trap_oid else None


def process(knowledge: Knowledge, events: Iterable[Any], *, now: datetime, alert_lease_seconds: float) -> Outcome:
    outcome = Outcome()
    lease_until = now + timedelta(seconds=alert_lease_seconds)
    for event in events:
        try:
            _one(knowledge, event, now, lease_until, outcome)
        except Exception as error:  # one bad event is dead-lettered, the batch goes on
            outcome.failed.append((event_ref(event), as_dead_letter(event), f"{type(error).__name__}: {error}"))
    return outcome


def _one(knowledge: Knowledge, event: Any, now: datetime, lease_until: datetime, outcome: Outcome) -> None:
    if not isinstance(event, dict):
        raise TypeError(f"an event must be a JSON object, got {type(event).__name__}")
    event_id = event.get("_id")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("event has no _id")
    hostname = event.get("hostname")
    if not isinstance(hostname, str) or not hostname:
        raise ValueError("event has no hostname")
    received_at = parse_time(event.get("_received_at")) or parse_time(event.get("timestamp"))
    if received_at is None:
        raise ValueError("event has neither _received_at nor a parsable timestamp")
    classified = knowledge.rules.classify(event)
    rule = classified.rule if classified is not None else None
    decision = decide(knowledge, event, rule)
    silence_id = knowledge.silences.silencing(event, now=now, rule_id=rule.id if rule else None,
                                              environment=decision.environment, team=decision.team,
                                              clears=classified.clears if classified is not None else False)
    if silence_id is not None:
        decision = Decision(decision.environment, SILENCED, False, decision.team)
    elif classified is None:
        outcome.unhandled.append(event)   # audited too (decision "unhandled"), and counted by the roll-up
    event_time = parse_time(event.get("timestamp"))
    correlation_id = str(event.get("_correlation_id") or "")[:64]
    outcome.audit_rows.append({
        "event_id": event_id, "received_at": received_at, "event_time": event_time, "hostname": hostname[:255],
        "rule_id": rule.id if rule else None, "rule_name": rule.name[:120] if rule else "",
        "environment": decision.environment, "silence_id": silence_id,
        "decision": decision.decision[:100], "forwarded": decision.forwarded, "team": decision.team[:100],
        "correlation_id": correlation_id, "event": event,
    })
    if decision.forwarded and classified is not None:
        rule = classified.rule
        key = pair_key(classified)
        message = str(event.get("message") or "")
        outcome.signals.append(Signal(_alert(
            event, kind="rule", rule_id=rule.id, rule_name=rule.name, team=decision.team,
            severity=rule.moog_severity, decision=decision.decision, environment=decision.environment,
            signature=signature("rule", rule.id, hostname, message, key), description=message,
            event_time=event_time, now=now, lease_until=lease_until,
        ), clears=classified.clears, key=key or "", event_time=event_time or received_at))


def _alert(event: dict[str, Any], *, now: datetime, lease_until: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "id": event["_id"], "state": "pending", "hostname": str(event["hostname"])[:255],
        "correlation_id": str(event.get("_correlation_id") or "")[:64], "event": event, "attempts": 0,
        "lease_until": lease_until, "last_error": "", "created_at": now, "updated_at": now,
        **fields,
        "rule_name": (fields.get("rule_name") or "")[:120], "team": fields["team"][:100],
        "decision": fields["decision"][:100], "signature": fields["signature"][:255],
    }


def meta_alert(knowledge: Knowledge, trigger: Trigger, *, threshold: int, window_seconds: int, default_team: str,
               now: datetime, alert_lease_seconds: float) -> dict[str, Any]:
    """The alert for an unhandled (host, fingerprint) that reached the threshold."""
    event = trigger.event
    hostname = str(event.get("hostname"))
    message = str(event.get("message") or "")
    return _alert(
        event, kind="meta", rule_id=None, rule_name="unhandled roll-up",
        team=knowledge.team_for(hostname) or default_team, severity=META_SEVERITY, decision=META_DECISION,
        environment=knowledge.environment(hostname),
        signature=f"mutt:unhandled:{hostname.lower()[:180]}:{trigger.fingerprint}",
        description=(f"[MUTT] {trigger.count} unhandled events (threshold {threshold}) in {window_seconds}s from "
                     f"'{hostname}'. Sample message: {message[:200]}"),
        event_time=parse_time(event.get("timestamp")), now=now,
        lease_until=now + timedelta(seconds=alert_lease_seconds),
    )
