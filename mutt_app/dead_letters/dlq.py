"""The dead-letter store: events and alerts MUTT could not process, kept with the reason.

A dead letter is a row in the database (durable, queryable, replayable). ``kind`` plus
``ref_id`` (the event or alert id) identifies it, so failing the same thing twice updates one
row instead of adding a second.

States: ``waiting`` (for remediation or a human), ``replayed`` (put back into the pipeline by
``mutt_app.remediation.replay``; if it fails again ``record`` sets it back to waiting, keeping the
replay count), ``poison`` (replayed ``remediation_max_replays`` times and failed each time: only a
human replays it). Purge by an operator writes one config-audit row per dead letter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from mutt_app.audit import config_audit
from mutt_app.core import params
from mutt_app.errors import InvalidInput
from mutt_app.storage.db import insert_ignoring_duplicates
from mutt_app.storage.models import DEAD_LETTER_STATES, DeadLetter

EVENT, ALERT = "event", "alert"

# Reasons, by who writes them.
INVALID_EVENT = "invalid_event"          # ingest: an item of a batch failed validation
PROCESSING_FAILED = "processing_failed"  # alerter: an event raised while being processed
SHED = "shed"                            # alerter: load shed above alerter_queue_shed_threshold
WORKER_LOST = "worker_lost"              # janitor: work kept dying with its worker
MOOG_REJECTED = "moog_rejected"          # forwarder: Moogsoft answered a permanent 4xx
RETRIES_EXHAUSTED = "retries_exhausted"  # forwarder: retryable failures used up the budget

REASONS = (INVALID_EVENT, PROCESSING_FAILED, SHED, WORKER_LOST, MOOG_REJECTED, RETRIES_EXHAUSTED)

WAITING, REPLAYED, POISON = DEAD_LETTER_STATES

ERROR_LIMIT = 2000


def record(
    session: Session,
    kind: str,
    ref_id: str,
    reason: str,
    *,
    error: str = "",
    payload: dict[str, Any] | list[Any] | None = None,
    attempts: int = 0,
    last_status: int | None = None,
) -> None:
    """Add a dead letter, or refresh the existing one for the same thing (state back to waiting)."""
    record_many(session, kind, reason, [(ref_id, payload, error)], attempts=attempts, last_status=last_status)


def record_many(
    session: Session,
    kind: str,
    reason: str,
    items: Sequence[tuple[str, dict[str, Any] | list[Any] | None, str]],
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
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
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


class DeadLetterError(InvalidInput):
    """A bad filter or request (the API answers 400, the CLI prints it)."""


@dataclass(frozen=True)
class Filter:
    kind: str | None = None
    reason: str | None = None
    state: str | None = None
    since: str | None = None    # failed within the last 15m, 1h, 24h or 7d (params.TIME_RANGES)

    def __post_init__(self) -> None:
        for name, value, allowed in (("kind", self.kind, (EVENT, ALERT)), ("reason", self.reason, REASONS),
                                     ("state", self.state, DEAD_LETTER_STATES)):
            if value is not None and value not in allowed:
                raise DeadLetterError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        try:
            params.time_range_start(self.since)
        except params.ParamError as error:
            raise DeadLetterError(str(error)) from None

    def is_empty(self) -> bool:
        return self.kind is None and self.reason is None and self.state is None and self.since is None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.kind is not None:
            found.append(DeadLetter.kind == self.kind)
        if self.reason is not None:
            found.append(DeadLetter.reason == self.reason)
        if self.state is not None:
            found.append(DeadLetter.state == self.state)
        recent = params.time_range_start(self.since)
        if recent is not None:
            found.append(DeadLetter.last_failed_at >= recent)
        return found


FILTER_FIELDS = tuple(field.name for field in fields(Filter))  # what a bulk request's filter may name


@dataclass(frozen=True)
class Page:
    items: list[DeadLetter]
    page: int
    limit: int
    total: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.limit) if self.total else 0


MAX_PAGE_SIZE = 500
MAX_PAGE = 2**31 - 1  # (page - 1) * limit stays a bigint offset


def list_dead_letters(session: Session, kind: str | None = None, reason: str | None = None,
                      state: str | None = None, page: int = 1, limit: int = 50, since: str | None = None) -> Page:
    """One page of dead letters, most recent failure first."""
    if not 1 <= page <= MAX_PAGE or not 1 <= limit <= MAX_PAGE_SIZE:
        raise DeadLetterError(f"page must be between 1 and {MAX_PAGE} and limit between 1 and {MAX_PAGE_SIZE}")
    where = Filter(kind, reason, state, since).conditions()
    total = session.scalar(select(func.count()).select_from(DeadLetter).where(*where)) or 0
    items = session.scalars(
        select(DeadLetter).where(*where).order_by(DeadLetter.last_failed_at.desc(), DeadLetter.id.desc())
        .offset((page - 1) * limit).limit(limit)
    ).all()
    return Page(list(items), page, limit, total)


def get(session: Session, letter_id: int) -> DeadLetter | None:
    return session.get(DeadLetter, letter_id)


def matching_ids(session: Session, where: Filter, limit: int | None = None) -> list[int]:
    """Ids of the dead letters a filter selects, oldest first."""
    query = select(DeadLetter.id).where(*where.conditions()).order_by(DeadLetter.id)
    return list(session.scalars(query.limit(limit) if limit else query))


MAX_SELECTED = 10_000  # dead letters one request of the API or the UI may replay or purge


def selected_ids(session: Session, ids: Iterable[int] | None = None, where: Filter | None = None, *,
                 limit: int | None = MAX_SELECTED) -> list[int]:
    """The dead letters a bulk replay or purge names (API, UI, CLI): ``ids``, or every letter a
    non-empty filter matches, never both; at most ``limit`` (None: any number)."""
    ids = list(dict.fromkeys(ids or ()))
    filtered = where is not None and not where.is_empty()
    if ids and filtered:
        raise DeadLetterError("give ids or a filter, not both")
    if not ids and not filtered:
        raise DeadLetterError(f"name the dead letters: ids, or a filter of at least one of {', '.join(FILTER_FIELDS)}")
    if not ids:
        assert where is not None
        ids = matching_ids(session, where, limit=limit + 1 if limit is not None else None)
    if limit is not None and len(ids) > limit:
        raise DeadLetterError(f"at most {limit} dead letters at once; narrow the filter")
    return ids


def summary(payload: Any) -> dict[str, Any]:
    """Host, message and rule of a dead letter, from its payload, whichever shape it has: an event
    (kind event), the Moogsoft request of an alert (the forwarder's), or an alert's summary (the
    janitor's). What a payload does not say is None; text is cut to ``SUMMARY_LIMIT``."""
    if not isinstance(payload, dict):
        return {"host": None, "message": None, "rule_id": None, "rule_name": None}
    custom: dict[str, Any] = payload["custom_info"] if isinstance(payload.get("custom_info"), dict) else {}
    nested = payload.get("event") if isinstance(payload.get("event"), dict) else custom.get("event")
    event: dict[str, Any] = nested if isinstance(nested, dict) else {}

    def first(*values: Any) -> Any:
        return next((value for value in values if value not in (None, "")), None)

    def text(value: Any) -> str | None:
        return None if value is None else str(value)[:SUMMARY_LIMIT]

    rule_id = first(payload.get("rule_id"), custom.get("rule_id"))
    return {
        "host": text(first(payload.get("hostname"), payload.get("source_id"), event.get("hostname"), payload.get("host"))),
        "message": text(first(payload.get("message"), payload.get("description"), event.get("message"))),
        "rule_id": rule_id if isinstance(rule_id, int) and not isinstance(rule_id, bool) else None,
        "rule_name": text(first(payload.get("rule_name"), custom.get("rule_name"))),
    }


SUMMARY_LIMIT = 500


def as_dict(letter: DeadLetter, with_payload: bool = True) -> dict[str, Any]:
    """The JSON shape of a dead letter (API and CLI): with host, message and rule from its payload."""
    body = {
        "id": letter.id, "kind": letter.kind, "ref_id": letter.ref_id, "reason": letter.reason, **summary(letter.payload),
        "state": letter.state, "error": letter.error, "attempts": letter.attempts,
        "last_status": letter.last_status, "replays": letter.replays,
        "next_replay_at": _iso(letter.next_replay_at), "first_failed_at": _iso(letter.first_failed_at),
        "last_failed_at": _iso(letter.last_failed_at),
    }
    if with_payload:
        body["payload"] = letter.payload
    return body


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- purge ----------------------------------------------------------------------------------

Progress = Callable[[int, int], None]  # (done, total)

CHUNK = 200  # dead letters per query (and per progress report) when purging or replaying many


def purge(session: Session, ids: Iterable[int] | None = None, where: Filter | None = None, *, actor: str,
          reason: str, progress: Progress | None = None, correlation_id: str = "") -> int:
    """Delete dead letters by id or by a non-empty filter, auditing each; returns how many."""
    if ids is None:
        if where is None or where.is_empty():
            raise DeadLetterError("purge needs ids or a filter (kind, reason or state)")
        ids = matching_ids(session, where)
    ids = list(dict.fromkeys(int(i) for i in ids))
    removed = 0
    for start in range(0, len(ids), CHUNK):
        letters = session.scalars(select(DeadLetter).where(DeadLetter.id.in_(ids[start:start + CHUNK]))).all()
        for letter in letters:
            config_audit.record(session, actor=actor, operation="DELETE", table="dead_letters", record_id=letter.id,
                         old=as_dict(letter, with_payload=False), reason=reason, correlation_id=correlation_id)
        if letters:
            session.execute(delete(DeadLetter).where(DeadLetter.id.in_([letter.id for letter in letters])))
        removed += len(letters)
        if progress:
            progress(min(start + CHUNK, len(ids)), len(ids))
    return removed
