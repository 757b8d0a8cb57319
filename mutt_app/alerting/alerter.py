"""What each event means: rule, environment, decision; the rows and alerts that follow.

``process`` is pure: given the compiled rules, development hosts and device teams
(``Knowledge``) and a batch of canonical events, it returns the event-audit rows, the alerts to
raise and the unhandled events, and the events it could not process (each with its error),
so one bad event never sinks its batch. ``store`` writes all of that in the caller's
transaction, idempotently (a redelivered batch adds nothing). ``recover_batch`` is what the
alerter task and the janitor do with a batch that keeps being lost with its worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError
from sqlalchemy.orm import Session

from mutt_app.alerting.batches import EventBatches
from mutt_app.alerting.rollup import Trigger, fingerprint
from mutt_app.dead_letters import dlq
from mutt_app.rules.matcher import Rule, RuleSet
from mutt_app.storage import redis_keys
from mutt_app.storage.db import insert_ignoring_duplicates
from mutt_app.storage.models import HANDLINGS, Alert, EventAudit

log = logging.getLogger(__name__)

FORWARDING = frozenset(handling.lower() for handling in HANDLINGS if handling != "Ignore")
DEV, PROD = "dev", "prod"
UNHANDLED = "unhandled"
META_DECISION = "ticket_only"   # a meta-alert asks for a ticket, not a page
META_SEVERITY = 2               # Moogsoft Warning, as v2.5
MAX_BATCH_CLAIMS = 3            # claims after which a batch is split, or its single event dead-lettered
RELOAD_AT_LEAST_EVERY = 60.0    # seconds: also reload without a version bump (e.g. Redis lost it)


def _lower_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(name.strip().lower() for name in names if name)


@dataclass(frozen=True)
class Knowledge:
    """Everything matching needs, loaded and compiled once per rule-set version."""

    rules: RuleSet
    dev_hosts: frozenset[str]          # lower-cased
    teams: dict[str, str]              # lower-cased hostname -> team
    version: str | None = None
    loaded_at: float = field(default_factory=time.monotonic)

    @classmethod
    def build(cls, rules: Iterable[Any], dev_hosts: Iterable[str], teams: dict[str, str], version: str | None = None) -> Knowledge:
        return cls(RuleSet(rules), _lower_names(dev_hosts),
                   {host.strip().lower(): team for host, team in teams.items()}, version)

    def with_rules(self, rules: RuleSet) -> Knowledge:
        return replace(self, rules=rules)

    def _lookup(self, hostname: Any):
        """The hostname, lower-cased, then its first label (dev-router1.lab.example.com -> dev-router1)."""
        name = str(hostname or "").strip().lower()
        return name, name.split(".", 1)[0]

    def environment(self, hostname: Any) -> str:
        full, first = self._lookup(hostname)
        return DEV if full in self.dev_hosts or first in self.dev_hosts else PROD

    def team_for(self, hostname: Any) -> str | None:
        full, first = self._lookup(hostname)
        return self.teams.get(full) or self.teams.get(first)


@dataclass(frozen=True)
class Decision:
    environment: str
    decision: str
    forwarded: bool
    team: str


def forwards(decision: str) -> bool:
    return decision.strip().lower() in FORWARDING


def decide(knowledge: Knowledge, event: dict, rule: Rule | None) -> Decision:
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


@dataclass
class Outcome:
    audit_rows: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    unhandled: list[dict] = field(default_factory=list)
    failed: list[tuple[str, dict, str]] = field(default_factory=list)   # (event ref, event, error)


def event_ref(event: Any) -> str:
    """The event's id, or (for an event without one) a stable digest of it."""
    if isinstance(event, dict) and isinstance(event.get("_id"), str) and event["_id"]:
        return event["_id"][:64]
    return "sha1-" + hashlib.sha1(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def signature(kind: str, key: Any, hostname: str, message: str) -> str:
    """Moogsoft's de-duplication key: one per rule (or roll-up) + host + message fingerprint."""
    return f"mutt:{kind}:{key}:{hostname.lower()[:180]}:{fingerprint(message)}"


def process(knowledge: Knowledge, events: Iterable[Any], *, now: datetime, alert_lease_seconds: float) -> Outcome:
    outcome = Outcome()
    lease_until = now + timedelta(seconds=alert_lease_seconds)
    for event in events:
        try:
            _one(knowledge, event, now, lease_until, outcome)
        except Exception as error:  # one bad event is dead-lettered, the batch goes on
            outcome.failed.append((event_ref(event), event if isinstance(event, dict) else {"event": event},
                                   f"{type(error).__name__}: {error}"))
    return outcome


def _one(knowledge: Knowledge, event: dict, now: datetime, lease_until: datetime, outcome: Outcome) -> None:
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
    rule = knowledge.rules.match(event)
    if rule is None:
        outcome.unhandled.append(event)
        return
    decision = decide(knowledge, event, rule)
    event_time = parse_time(event.get("timestamp"))
    correlation_id = str(event.get("_correlation_id") or "")[:64]
    outcome.audit_rows.append({
        "event_id": event_id, "received_at": received_at, "event_time": event_time, "hostname": hostname[:255],
        "rule_id": rule.id, "rule_name": rule.name[:120], "environment": decision.environment,
        "decision": decision.decision[:100], "forwarded": decision.forwarded, "team": decision.team[:100],
        "correlation_id": correlation_id, "event": event,
    })
    if decision.forwarded:
        message = str(event.get("message") or "")
        outcome.alerts.append(_alert(
            event, kind="rule", rule_id=rule.id, rule_name=rule.name, team=decision.team,
            severity=rule.moog_severity, decision=decision.decision, environment=decision.environment,
            signature=signature("rule", rule.id, hostname, message), description=message,
            event_time=event_time, now=now, lease_until=lease_until,
        ))


def _alert(event: dict, *, now: datetime, lease_until: datetime, **fields) -> dict:
    return {
        "id": event["_id"], "state": "pending", "hostname": str(event["hostname"])[:255],
        "correlation_id": str(event.get("_correlation_id") or "")[:64], "event": event, "attempts": 0,
        "lease_until": lease_until, "last_error": "", "created_at": now, "updated_at": now,
        **fields,
        "rule_name": (fields.get("rule_name") or "")[:120], "team": fields["team"][:100],
        "decision": fields["decision"][:100], "signature": fields["signature"][:255],
    }


def meta_alert(knowledge: Knowledge, trigger: Trigger, *, threshold: int, window_seconds: int, default_team: str,
               now: datetime, alert_lease_seconds: float) -> dict:
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


# --- writing a batch's outcome ---------------------------------------------------------------


def refused(error: BaseException) -> bool:
    """True when the database refused what was written (bad value), False when it is unreachable."""
    return isinstance(error, StatementError) and not isinstance(error, (OperationalError, InterfaceError))


def store(session: Session, outcome: Outcome, *, attempts: int) -> None:
    """Write a batch's audit rows, alerts and dead letters in ``session``, in bulk. Idempotent:
    rows that exist already (a redelivered batch) are left alone."""
    insert_ignoring_duplicates(session, EventAudit.__table__, outcome.audit_rows)
    insert_ignoring_duplicates(session, Alert.__table__, outcome.alerts)
    if outcome.failed:
        dlq.record_many(session, dlq.EVENT, dlq.PROCESSING_FAILED, outcome.failed, attempts=attempts)


def store_each(session_scope: Callable, outcome: Outcome, *, attempts: int) -> Outcome:
    """``store`` one event per transaction, after the database refused the bulk write: the
    events it refuses become dead letters, the others are written. Returns what was written."""
    written = Outcome(unhandled=outcome.unhandled, failed=list(outcome.failed))
    alerts = {alert["id"]: alert for alert in outcome.alerts}
    singles = [([row], [alerts.pop(row["event_id"])] if row["event_id"] in alerts else []) for row in outcome.audit_rows]
    singles += [([], [alert]) for alert in alerts.values()]  # meta-alerts have no audit row
    for rows, alert in singles:
        try:
            with session_scope() as session:
                store(session, Outcome(audit_rows=rows, alerts=alert), attempts=attempts)
        except Exception as error:
            if not refused(error):
                raise
            if not rows:  # a meta-alert: its event is counted unhandled already
                log.error("meta-alert %s refused by the database: %s", alert[0]["id"], str(error).splitlines()[0])
                continue
            event = rows[0]["event"]
            written.failed.append((event_ref(event), event, f"{type(error).__name__}: {str(error).splitlines()[0]}"))
            continue
        written.audit_rows += rows
        written.alerts += alert
    for ref, event, error in written.failed:
        try:
            with session_scope() as session:
                dlq.record(session, dlq.EVENT, ref, dlq.PROCESSING_FAILED, error=error, payload=event, attempts=attempts)
        except Exception as refusal:
            if not refused(refusal):
                raise
            # e.g. a NUL character PostgreSQL's JSONB refuses: keep the event as escaped JSON text
            with session_scope() as session:
                dlq.record(session, dlq.EVENT, ref, dlq.PROCESSING_FAILED, error=error, attempts=attempts,
                           payload={"unstorable_event": json.dumps(event, default=str)})
    return written


def alerts_waiting(session: Session) -> int:
    """Alerts not yet delivered to Moogsoft (pending or being sent): the alerter's backpressure."""
    return int(session.scalar(select(func.count()).select_from(Alert).where(Alert.state.in_(("pending", "sending")))) or 0)


# --- batches that keep failing -----------------------------------------------------------------

PROCESS, SPLIT, DEAD_LETTER = "process", "split", "dead_letter"


def crash_action(claims: int, size: int, max_claims: int = MAX_BATCH_CLAIMS) -> str:
    """What to do with a batch claimed ``claims`` times so far (each claim that did not finish
    means a worker died with it): process it, split it into single events to isolate the one
    that kills workers, or, for a single event, give up on it as a dead letter ``worker_lost``."""
    if claims <= max_claims:
        return PROCESS
    return SPLIT if size > 1 else DEAD_LETTER


def forgive_claim(redis_client, batch_id: str) -> None:
    """A claim that ended in a handled failure (database down, deferred) is not a crash."""
    redis_client.hincrby(redis_keys.BATCH_ATTEMPTS, batch_id, -1)


def dead_letter_batch(session: Session, events: list[Any], reason: str, *, error: str, attempts: int) -> int:
    """Dead-letter every event of a batch with one reason (in ``session``); returns how many."""
    dlq.record_many(session, dlq.EVENT, reason, [(event_ref(e), e if isinstance(e, dict) else {"event": e}, error) for e in events],
                    attempts=attempts)
    return len(events)


def recover_batch(batches: EventBatches, batch_id: str, claims: int, *, session_scope: Callable,
                  enqueue: Callable[[str], None], lease_seconds: float) -> str:
    """For the janitor (and the alerter task): a batch whose lease ran out after ``claims``
    claims is enqueued again, split, or, a single event, dead-lettered ``worker_lost``."""
    size = int(batches.redis.llen(redis_keys.batch(batch_id)))
    if size == 0:
        return PROCESS  # already completed
    action = crash_action(claims, size)
    if action == PROCESS:
        enqueue(batch_id)
    elif action == SPLIT:
        new_ids = batches.split(batch_id, lease_seconds)
        log.warning("batch %s lost its worker %d times: split into %d single-event batches", batch_id, claims, len(new_ids))
        for new_id in new_ids:
            enqueue(new_id)
    else:
        claim = batches.claim(batch_id, lease_seconds)
        if claim is None:
            return PROCESS
        with session_scope() as session:
            count = dead_letter_batch(session, claim.events, dlq.WORKER_LOST, attempts=claims,
                                      error=f"the worker processing this event was lost {claims} times")
        batches.complete(batch_id, {"dead_lettered": count})
        log.error("event %s dead-lettered: its worker was lost %d times", event_ref(claim.events[0]) if claim.events else "?", claims)
    return action


class KnowledgeCache:
    """This process's rules, hosts and teams, reloaded when ``redis_keys.RULES_VERSION`` moves (checked
    for every batch, so a change is used by the next batch) and at least every minute."""

    def __init__(self, load: Callable[[str | None], Knowledge]) -> None:
        self._load = load
        self._knowledge: Knowledge | None = None

    def get(self, redis_client) -> tuple[Knowledge, bool]:
        """The current knowledge, and whether it was (re)loaded for this call."""
        version = redis_client.get(redis_keys.RULES_VERSION)
        known = self._knowledge
        if known is None or known.version != version or time.monotonic() - known.loaded_at > RELOAD_AT_LEAST_EVERY:
            self._knowledge = self._load(version)
            return self._knowledge, True
        return known, False
