"""The dead-letter store: events and alerts MUTT could not process, kept with the reason.

A dead letter is a row in the database (durable, queryable, replayable). ``kind`` plus
``ref_id`` (the event or alert id) identifies it, so failing the same thing twice updates one
row instead of adding a second.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutt_app.db import insert_ignoring_duplicates
from mutt_app.models import DeadLetter

EVENT, ALERT = "event", "alert"

# Reasons, by who writes them.
INVALID_EVENT = "invalid_event"          # ingest: an item of a batch failed validation
PROCESSING_FAILED = "processing_failed"  # alerter: an event raised while being processed
SHED = "shed"                            # alerter: load shed above alerter_queue_shed_threshold
WORKER_LOST = "worker_lost"              # janitor: work kept dying with its worker
MOOG_REJECTED = "moog_rejected"          # forwarder: Moogsoft answered a permanent 4xx
RETRIES_EXHAUSTED = "retries_exhausted"  # forwarder: retryable failures used up the budget

REASONS = (INVALID_EVENT, PROCESSING_FAILED, SHED, WORKER_LOST, MOOG_REJECTED, RETRIES_EXHAUSTED)

ERROR_LIMIT = 2000


def record(
    session: Session,
    kind: str,
    ref_id: str,
    reason: str,
    *,
    error: str = "",
    payload: dict | list | None = None,
    attempts: int = 0,
    last_status: int | None = None,
) -> None:
    """Add a dead letter, or refresh the existing one for the same thing (state back to waiting)."""
    record_many(session, kind, reason, [(ref_id, payload, error)], attempts=attempts, last_status=last_status)


def record_many(
    session: Session,
    kind: str,
    reason: str,
    items: list[tuple[str, dict | list | None, str]],
    *,
    attempts: int = 0,
    last_status: int | None = None,
) -> None:
    """``record`` for many (ref_id, payload, error) items with one reason, in bulk."""
    if kind not in (EVENT, ALERT):
        raise ValueError(f"unknown dead-letter kind {kind!r}")
    if reason not in REASONS:
        raise ValueError(f"unknown dead-letter reason {reason!r}")
    if not items:
        return
    now = datetime.now(timezone.utc)
    rows = [
        {
            "kind": kind, "ref_id": ref_id, "reason": reason, "error": (error or "")[:ERROR_LIMIT],
            "attempts": attempts, "last_status": last_status, "payload": payload, "state": "waiting",
            "replays": 0, "first_failed_at": now, "last_failed_at": now,
        }
        for ref_id, payload, error in items
    ]
    inserted = insert_ignoring_duplicates(session, DeadLetter.__table__, rows)
    if inserted == len(rows):
        return
    by_ref = {row["ref_id"]: row for row in rows}
    existing = session.scalars(
        select(DeadLetter).where(DeadLetter.kind == kind, DeadLetter.ref_id.in_(list(by_ref)))
    )
    for letter in existing:
        row = by_ref[letter.ref_id]
        if letter.first_failed_at == now:
            continue  # inserted just now
        letter.reason, letter.error, letter.state = reason, row["error"], "waiting"
        letter.attempts = max(letter.attempts, attempts)
        letter.last_status = last_status
        letter.last_failed_at = now
        if row["payload"] is not None:
            letter.payload = row["payload"]
