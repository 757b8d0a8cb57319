"""Writing a batch's outcome: audit rows, alerts and dead letters, idempotently.

``store`` writes a whole batch in the caller's transaction; a redelivered batch adds nothing
(rows that exist already are left alone). When the database refuses the bulk write (a value it
will not take), ``store_each`` writes event by event, so only the events it refuses become dead
letters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError
from sqlalchemy.orm import Session

from mutt_app.alerting.decide import Outcome, as_dead_letter, event_ref
from mutt_app.dead_letters import dlq
from mutt_app.storage.db import insert_ignoring_duplicates
from mutt_app.storage.models import Alert, EventAudit

log = logging.getLogger(__name__)

SessionScope = Callable[[], AbstractContextManager[Session]]


def refused(error: BaseException) -> bool:
    """True when the database refused what was written (bad value), False when it is unreachable."""
    return isinstance(error, StatementError) and not isinstance(error, (OperationalError, InterfaceError))


def store(session: Session, outcome: Outcome, *, attempts: int) -> None:
    """Write a batch's audit rows, alerts and dead letters in ``session``, in bulk. Idempotent:
    rows that exist already (a redelivered batch) are left alone."""
    insert_ignoring_duplicates(session, EventAudit.__table__, outcome.audit_rows)
    insert_ignoring_duplicates(session, Alert.__table__, outcome.alerts)
    if outcome.failed:
        dlq.record_many(session, dlq.EVENT, dlq.PROCESSING_FAILED, [*outcome.failed], attempts=attempts)


def store_each(session_scope: SessionScope, outcome: Outcome, *, attempts: int) -> Outcome:
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
