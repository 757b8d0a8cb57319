"""What became of audited events: delivered, retrying, a dead letter, silenced, a duplicate, not
forwarded. The event audit says what the rules decided; this follows each row to the outbox
(``alerts``: a forwarded event's request has the event's id) and to the dead letters (kind
``alert`` for a request that could not be delivered, kind ``event`` for an event that could not be
processed; ``ref_id`` is the id), so an operator sees "dead letter 12" where the audit alone says
"forwarded".

Batched: a page of rows costs two queries (its outbox rows, its dead letters) whatever its size.
Read only; the event-audit API and page, and an alert's page, call ``attach``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutt_app.alerting import alert_state
from mutt_app.alerting.decide import SILENCED
from mutt_app.dead_letters import dlq
from mutt_app.storage.models import Alert, DeadLetter

# What an outcome's ``status`` can be.
DELIVERED = "delivered"        # Moogsoft took the request: when, its HTTP status
PENDING = "pending"            # waiting for its first send
RETRYING = "retrying"          # sent and failed, waiting to be sent again (attempts, last status)
SENDING = "sending"            # a forwarder holds it right now
DEAD_LETTER = "dead_letter"    # could not be delivered (or processed): the dead letter says why
SILENCED_BY = "silenced"       # a silence muted it: which one
DUPLICATE = "duplicate"        # its alert was open and sent within the dedup window: which alert
HELD = "held"                  # sent nothing because of its alert: flapping, out of order, a clear with no alert
NOT_FORWARDED = "not_forwarded"  # the rule's handling does not forward (Ignore), or no rule matched
NO_RECORD = "no_record"        # forwarded, but its request is gone (retention) and no dead letter names it
STATUSES = (DELIVERED, PENDING, RETRYING, SENDING, DEAD_LETTER, SILENCED_BY, DUPLICATE, HELD, NOT_FORWARDED, NO_RECORD)

MAX_ERROR = 300  # characters of the last error shown


@dataclass(frozen=True)
class Outcome:
    status: str                        # one of STATUSES
    summary: str                       # the same in words, for people
    alert_id: int | None = None        # the alert (alert_states) the event opened, refreshed or cleared
    delivery_id: str | None = None     # its request to Moogsoft (the outbox row; the event's id)
    attempts: int | None = None
    http_status: int | None = None     # the last answer's status
    delivered_at: str | None = None
    last_error: str | None = None
    dead_letter_id: int | None = None
    dead_letter_reason: str | None = None
    dead_letter_state: str | None = None
    silence_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def for_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    """The outcome of each event-audit row (as ``audit.queries.event_to_dict`` gives them: event_id,
    decision, forwarded, silence_id, alert_id), in the rows' order."""
    ids = [str(row["event_id"]) for row in rows]
    if not ids:
        return []
    forwarded = [str(row["event_id"]) for row in rows if row.get("forwarded")]
    deliveries = ({alert.id: alert for alert in session.scalars(select(Alert).where(Alert.id.in_(forwarded)))}
                  if forwarded else {})
    letters: dict[tuple[str, str], DeadLetter] = {
        (letter.kind, letter.ref_id): letter
        for letter in session.scalars(select(DeadLetter).where(DeadLetter.kind.in_((dlq.ALERT, dlq.EVENT)),
                                                               DeadLetter.ref_id.in_(ids)))
    }
    return [_outcome(row, deliveries.get(str(row["event_id"])), letters) for row in rows]


def _outcome(row: Mapping[str, Any], delivery: Alert | None, letters: Mapping[tuple[str, str], DeadLetter]) -> Outcome:
    event_id, decision, alert_id = str(row["event_id"]), str(row.get("decision") or ""), row.get("alert_id")
    event_letter = letters.get((dlq.EVENT, event_id))
    if event_letter is not None and delivery is None:
        return _dead(event_letter, alert_id, None)
    if row.get("silence_id") is not None or decision == SILENCED:
        silence_id = row.get("silence_id")
        return Outcome(SILENCED_BY, f"silenced by silence {silence_id}" if silence_id is not None else "silenced",
                       alert_id=alert_id, silence_id=silence_id)
    if decision == alert_state.DUPLICATE:
        return Outcome(DUPLICATE, f"duplicate of alert {alert_id}" if alert_id is not None else "duplicate",
                       alert_id=alert_id)
    if decision in alert_state.NOT_SENT:
        words = decision.replace("_", " ")
        return Outcome(HELD, f"not sent: {words}" + (f" (alert {alert_id})" if alert_id is not None else ""),
                       alert_id=alert_id)
    if not row.get("forwarded"):
        return Outcome(NOT_FORWARDED, f"not forwarded ({decision})" if decision else "not forwarded", alert_id=alert_id)
    letter = letters.get((dlq.ALERT, event_id))
    if delivery is None:
        if letter is not None:
            return _dead(letter, alert_id, None)
        return Outcome(NO_RECORD, "forwarded; its delivery record is gone (retention)", alert_id=alert_id)
    fields: dict[str, Any] = {
        "alert_id": alert_id, "delivery_id": delivery.id, "attempts": delivery.attempts,
        "http_status": delivery.last_status, "last_error": (delivery.last_error or "")[:MAX_ERROR] or None,
    }
    if letter is not None:
        fields.update(dead_letter_id=letter.id, dead_letter_reason=letter.reason, dead_letter_state=letter.state)
    status_words = f", HTTP {delivery.last_status}" if delivery.last_status is not None else ""
    replayed = f" (replayed from dead letter {letter.id})" if letter is not None else ""
    if delivery.state == "delivered":
        return Outcome(DELIVERED, f"delivered {_when(delivery.delivered_at)}{status_words}{replayed}",
                       delivered_at=_iso(delivery.delivered_at), **fields)
    if delivery.state == "dead":
        return _dead(letter, alert_id, fields) if letter is not None else Outcome(
            DEAD_LETTER, f"not delivered{status_words}; its dead letter was purged", **fields)
    if delivery.state == "sending":
        return Outcome(SENDING, f"sending (attempt {delivery.attempts + 1}){replayed}", **fields)
    if delivery.attempts:
        return Outcome(RETRYING, f"retrying after {delivery.attempts} attempt{'s' if delivery.attempts != 1 else ''}"
                                 f"{status_words}{replayed}", **fields)
    return Outcome(PENDING, f"pending{replayed}", **fields)


def _dead(letter: DeadLetter, alert_id: int | None, fields: dict[str, Any] | None) -> Outcome:
    fields = dict(fields or {"alert_id": alert_id, "attempts": letter.attempts, "http_status": letter.last_status})
    fields.update(dead_letter_id=letter.id, dead_letter_reason=letter.reason, dead_letter_state=letter.state)
    status_words = f", HTTP {letter.last_status}" if letter.last_status is not None else ""
    return Outcome(DEAD_LETTER, f"dead letter {letter.id} ({letter.reason}{status_words})", **fields)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def attach(session: Session, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows, each with its ``outcome`` (as ``Outcome.to_dict``) added in place."""
    for row, outcome in zip(rows, for_rows(session, rows), strict=True):
        row["outcome"] = outcome.to_dict()
    return list(rows)
