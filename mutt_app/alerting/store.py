"""Writing a batch's outcome: alert states, audit rows, alerts and dead letters, idempotently.

``store`` writes a whole batch in the caller's transaction: it locks the alert states of the
batch's signatures (one statement, in signature order, so concurrent batches never deadlock),
applies the batch's forwarded events to them one signature at a time in event-time order
(``alert_state.apply``), and writes the states, the audit rows (with their alert and, for an event
that sends nothing, why) and the outbox rows of what is to be sent. A redelivered batch adds
nothing: events whose audit row exists already are skipped. When the database refuses the bulk write (a value it
will not take), ``store_each`` writes event by event, so only the events it refuses become dead
letters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError
from sqlalchemy.orm import Session

from mutt_app.alerting import alert_state
from mutt_app.alerting.decide import UNHANDLED, Outcome, Signal, as_dead_letter, event_ref
from mutt_app.core import metrics
from mutt_app.dead_letters import dlq
from mutt_app.storage.db import among, insert_columns_ignoring_duplicates, insert_ignoring_duplicates, lock_or_insert, update_by_key
from mutt_app.storage.models import Alert, AlertState, EventAudit

STATES = cast(Table, AlertState.__table__)
AUDIT = cast(Table, EventAudit.__table__)

log = logging.getLogger(__name__)

SessionScope = Callable[[], AbstractContextManager[Session]]


def refused(error: BaseException) -> bool:
    """True when the database refused what was written (bad value), False when it is unreachable."""
    return isinstance(error, StatementError) and not isinstance(error, (OperationalError, InterfaceError))


def store(session: Session, outcome: Outcome, *, attempts: int,
          settings: alert_state.Settings = alert_state.DEFAULTS) -> Outcome:
    """Apply the batch's signals to their alerts and write everything in ``session``, in bulk.
    Returns the outcome as written: ``alerts`` are the outbox rows to hand to the forwarder.
    Idempotent: events stored already (a redelivered batch) are left alone."""
    received = {row["event_id"]: row["received_at"] for row in outcome.audit_rows}
    signals, alerts, verdicts = _apply(session, outcome.signals, received, settings)
    audit_rows = [_audited(row, verdicts.get(row["event_id"])) for row in outcome.audit_rows]
    insert_columns_ignoring_duplicates(session, AUDIT, audit_rows)   # one statement for the batch's rows
    insert_ignoring_duplicates(session, Alert.__table__, alerts)
    if outcome.failed:
        dlq.record_many(session, dlq.EVENT, dlq.PROCESSING_FAILED, [*outcome.failed], attempts=attempts)
    return Outcome(audit_rows=audit_rows, signals=signals, alerts=alerts, unhandled=outcome.unhandled,
                   failed=outcome.failed)


def _not_stored_yet(session: Session, signals: list[Signal], received: dict[str, datetime]) -> list[Signal]:
    """The signals whose event has no audit row yet (checked in this transaction, under the
    alert-state locks, so a batch run twice at once applies once; a meta-alert has no audit row
    and is always applied). Looked up by the event ids (one array) and the span of their times
    received: by the ids alone PostgreSQL cannot tell the partition and, with no statistics yet on
    a month's new partition, reads all of it; a list of (id, time) pairs cost it 30 times more to
    plan and run than the array and the span (docs/performance.md). An event's id is its own, so
    a row with that id and a time in the span is that event's row."""
    audited = [signal.alert["id"] for signal in signals if signal.audited]
    if not audited:
        return signals
    times = [received[event_id] for event_id in audited]
    stored = set(session.scalars(select(AUDIT.c.event_id).where(
        among(session, AUDIT.c.event_id, audited), AUDIT.c.received_at.between(min(times), max(times)))))
    return [signal for signal in signals if not (signal.audited and signal.alert["id"] in stored)]


def _audited(row: dict[str, Any], verdict: tuple[int | None, str] | None) -> dict[str, Any]:
    """The audit row with its alert and, for an event that sent nothing, why (every row names the
    same columns: they are inserted in one executemany)."""
    if verdict is None:
        return {**row, "alert_id": None}
    alert_id, outcome = verdict
    if outcome in alert_state.NOT_SENT:
        return {**row, "alert_id": alert_id, "decision": outcome, "forwarded": False}
    return {**row, "alert_id": alert_id}


def _apply(session: Session, signals: list[Signal], received: dict[str, datetime], settings: alert_state.Settings
           ) -> tuple[list[Signal], list[dict[str, Any]], dict[str, tuple[int | None, str]]]:
    """Lock the signals' alerts, drop the signals stored already, run each signature's signals
    through its alert's state machine in event-time order, and write the states. Returns the
    signals applied, the outbox rows to send and, per event, (alert id, outcome)."""
    if not signals:
        return [], [], {}
    rows = _lock(session, {signal.alert["signature"]: signal for signal in reversed(signals)})
    signals = _not_stored_yet(session, signals, received)
    by_signature: dict[str, list[Signal]] = {signature: [] for signature in rows}
    for signal in signals:
        by_signature[signal.alert["signature"]].append(signal)
    alerts: list[dict[str, Any]] = []
    verdicts: dict[str, tuple[int | None, str]] = {}
    changes: list[dict[str, Any]] = []
    placeholders: list[int] = []
    for signature, group in by_signature.items():
        row = rows[signature]
        current = _state(row)
        latest: Signal | None = None
        for signal in sorted(group, key=lambda s: (s.event_time, s.alert["id"])):
            step = alert_state.apply(current, alert_state.Event(signal.alert["id"], signal.clears, signal.event_time),
                                     settings)
            verdicts[signal.alert["id"]] = (row["id"] if step.state is not None else None, step.outcome)
            metrics.ALERTER_LIFECYCLE.labels(outcome=step.outcome).inc()
            if step.state is not None and step.outcome != alert_state.OUT_OF_ORDER and not signal.clears:
                latest = signal
            if step.send is not None and step.state is not None:
                alerts.append(_outbox_row(signal, step.send, step.state, row["id"], settings))
            current = step.state
        if current is None:
            placeholders.append(row["id"])
        elif group:
            changes.append(_columns(row, current, latest))
    if placeholders:
        session.execute(delete(STATES).where(STATES.c.id.in_(placeholders)))
    update_by_key(session, STATES, changes)
    return signals, alerts, verdicts


def _lock(session: Session, first: dict[str, Signal]) -> dict[str, dict[str, Any]]:
    """The alert-state rows of these signatures, locked for this transaction in signature order
    (concurrent batches queue, never deadlock), creating a placeholder (occurrences 0) for a
    signature that has none."""
    now = datetime.now(UTC)
    values = [_placeholder(signature, signal, now) for signature, signal in first.items()]
    return {row["signature"]: row for row in lock_or_insert(session, STATES, values, key="signature")}


def _placeholder(signature: str, signal: Signal, now: datetime) -> dict[str, Any]:
    alert = signal.alert
    return {
        "signature": signature, "kind": alert["kind"], "state": alert_state.OPEN, "flapping": False,
        "flapping_since": None, "rule_id": alert.get("rule_id"), "rule_name": alert["rule_name"],
        "hostname": alert["hostname"], "key": signal.key[:255], "team": alert["team"], "severity": alert["severity"],
        "environment": alert["environment"], "description": alert["description"], "occurrences": 0,
        "first_seen": signal.event_time, "last_seen": signal.event_time, "last_event_time": None,
        "changed_at": signal.event_time, "transitions": None, "last_sent_at": None, "last_sent_state": "",
        "last_event_id": "", "created_at": now, "updated_at": now,
    }


def _state(row: dict[str, Any]) -> alert_state.State | None:
    """The state machine's view of a row; None for a placeholder (no alert yet)."""
    if row["occurrences"] == 0:
        return None
    return alert_state.State(
        state=row["state"], first_seen=_utc(row["first_seen"]), last_seen=_utc(row["last_seen"]),
        last_event_time=_utc(row["last_event_time"] or row["last_seen"]), changed_at=_utc(row["changed_at"]),
        occurrences=row["occurrences"], flapping=row["flapping"],
        flapping_since=_utc(row["flapping_since"]) if row["flapping_since"] else None,
        transitions=tuple(datetime.fromisoformat(moment) for moment in row["transitions"] or ()),
        last_sent_at=_utc(row["last_sent_at"]) if row["last_sent_at"] else None,
        last_sent_state=row["last_sent_state"], last_event_id=row["last_event_id"],
    )


def _columns(row: dict[str, Any], state: alert_state.State, latest: Signal | None) -> dict[str, Any]:
    """The update of one alert-state row (``id`` names it); the latest problem event names it."""
    columns = {
        "id": row["id"], "state": state.state, "flapping": state.flapping, "flapping_since": state.flapping_since,
        "occurrences": state.occurrences, "first_seen": state.first_seen, "last_seen": state.last_seen,
        "last_event_time": state.last_event_time, "changed_at": state.changed_at,
        "transitions": [moment.isoformat() for moment in state.transitions], "last_sent_at": state.last_sent_at,
        "last_sent_state": state.last_sent_state, "last_event_id": state.last_event_id[:36],
        "updated_at": datetime.now(UTC),
    }
    named_by = latest.alert if latest is not None else row   # every update names the same columns (executemany)
    columns.update({name: named_by[name] for name in ("rule_name", "team", "severity", "environment", "description")})
    return columns


def _outbox_row(signal: Signal, send: str, state: alert_state.State, alert_id: int,
                settings: alert_state.Settings) -> dict[str, Any]:
    """What Moogsoft is sent: the event's alert, as a clear (severity 0) or flagged flapping."""
    row = {**signal.alert, "lifecycle": {"alert_id": alert_id, "alert_state": state.state, "send": send,
                                         "occurrences": state.occurrences, "flapping": state.flapping}}
    if send == alert_state.SEND_CLEAR:
        row["severity"] = 0
    elif send == alert_state.SEND_FLAPPING:
        row["description"] = (f"[flapping: {len(state.transitions)} state changes within "
                              f"{settings.flap_window_seconds:g} s; further changes held back] {row['description']}")
    return row


def settle_flapping(session: Session, now: datetime, settings: alert_state.Settings, *, lease_seconds: float,
                    limit: int = 1000) -> list[dict[str, Any]]:
    """The janitor's part of flapping: alerts flapping but stable (no change) for the flap window
    leave flapping and their current state is sent (``alert_state.settle``). Writes the states and
    the outbox rows in ``session``; returns the outbox rows, to hand to the forwarder."""
    cutoff = now - timedelta(seconds=settings.flap_window_seconds)
    query = (select(STATES).where(STATES.c.flapping.is_(True), STATES.c.changed_at <= cutoff)
             .order_by(STATES.c.signature).limit(limit).with_for_update(skip_locked=True))
    alerts, changes = [], []
    for row in (row._asdict() for row in session.execute(query)):
        current = _state(row)
        step = alert_state.settle(current, now, settings) if current is not None else None
        if step is None or step.send is None or step.state is None:
            continue
        changes.append(_columns(row, step.state, None))
        alerts.append(_outbox_row(_settled_signal(row, now, lease_seconds), step.send, step.state, row["id"], settings))
    if changes:
        update_by_key(session, STATES, changes)
        insert_ignoring_duplicates(session, Alert.__table__, alerts)
    return alerts


def _settled_signal(row: dict[str, Any], now: datetime, lease_seconds: float) -> Signal:
    """The request that tells Moogsoft where a flapping alert settled (no event raised it)."""
    alert = {
        "id": f"settled-{row['id']}-{int(now.timestamp())}", "kind": row["kind"], "state": "pending",
        "rule_id": row["rule_id"], "rule_name": row["rule_name"], "hostname": row["hostname"], "team": row["team"],
        "severity": row["severity"], "decision": "flapping_settled", "environment": row["environment"],
        "signature": row["signature"], "description": row["description"], "event_time": now, "correlation_id": "",
        "event": {}, "attempts": 0, "lease_until": now + timedelta(seconds=lease_seconds), "last_error": "",
        "created_at": now, "updated_at": now,
    }
    return Signal(alert, clears=row["state"] == alert_state.CLEARED, key=row["key"], event_time=now, audited=False)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def store_each(session_scope: SessionScope, outcome: Outcome, *, attempts: int,
               settings: alert_state.Settings = alert_state.DEFAULTS) -> Outcome:
    """``store`` one event per transaction, after the database refused the bulk write: the
    events it refuses become dead letters, the others are written. Returns what was written."""
    written = Outcome(unhandled=outcome.unhandled, failed=list(outcome.failed))
    signals = {signal.alert["id"]: signal for signal in outcome.signals}
    singles = [([row], [signals.pop(row["event_id"])] if row["event_id"] in signals else []) for row in outcome.audit_rows]
    singles += [([], [signal]) for signal in signals.values()]  # meta-alerts have no audit row
    for rows, signal in singles:
        try:
            with session_scope() as session:
                stored = store(session, Outcome(audit_rows=rows, signals=signal), attempts=attempts, settings=settings)
        except Exception as error:
            if not refused(error):
                raise
            if not rows:  # a meta-alert: its event is counted unhandled already
                log.error("meta-alert %s refused by the database: %s", signal[0].alert["id"], str(error).splitlines()[0])
                continue
            event = rows[0]["event"]
            if rows[0]["decision"] == UNHANDLED:  # dead-lettered instead: counted once, as a dead letter
                written.unhandled = [e for e in written.unhandled if e is not event]
            written.failed.append((event_ref(event), event, f"{type(error).__name__}: {str(error).splitlines()[0]}"))
            continue
        written.audit_rows += stored.audit_rows
        written.signals += stored.signals
        written.alerts += stored.alerts
    for ref, event, why in written.failed:
        try:
            with session_scope() as session:
                dlq.record(session, dlq.EVENT, ref, dlq.PROCESSING_FAILED, error=why, payload=event, attempts=attempts)
        except Exception as refusal:
            if not refused(refusal):
                raise
            # e.g. a NUL character PostgreSQL's JSONB refuses: keep the event as escaped JSON text
            with session_scope() as session:
                dlq.record(session, dlq.EVENT, ref, dlq.PROCESSING_FAILED, error=why, attempts=attempts,
                           payload={"unstorable_event": json.dumps(event, default=str)})
    return written


def dead_letter_batch(session: Session, events: list[Any], reason: str, *, error: str, attempts: int) -> int:
    """Dead-letter every event of a batch with one reason (in ``session``); returns how many."""
    dlq.record_many(session, dlq.EVENT, reason, [(event_ref(e), as_dead_letter(e), error) for e in events],
                    attempts=attempts)
    return len(events)


def alerts_waiting(session: Session) -> int:
    """Alerts not yet delivered to Moogsoft (pending or being sent): the alerter's backpressure."""
    return int(session.scalar(select(func.count()).select_from(Alert).where(Alert.state.in_(("pending", "sending")))) or 0)
