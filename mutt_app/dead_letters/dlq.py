"""The dead-letter store: events and alerts MUTT could not process, kept with the reason.

A dead letter is a row in the database (durable, queryable, replayable). ``kind`` plus
``ref_id`` (the event or alert id) identifies it, so failing the same thing twice updates one
row instead of adding a second.

States: ``waiting`` (for remediation or a human), ``replayed`` (put back into the pipeline; if
it fails again ``record`` sets it back to waiting, keeping the replay count), ``poison``
(replayed ``remediation_max_replays`` times and failed each time: only a human replays it).
Replay and purge by an operator write one config-audit row per dead letter.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mutt_app.audit import config_audit
from mutt_app.core import dynconfig
from mutt_app.ingest import events
from mutt_app.ingest.buffer import QUEUED, EventBuffer
from mutt_app.storage.db import insert_ignoring_duplicates, on_commit
from mutt_app.storage.models import DEAD_LETTER_STATES, Alert, DeadLetter

EVENT, ALERT = "event", "alert"

# Reasons, by who writes them.
INVALID_EVENT = "invalid_event"          # ingest: an item of a batch failed validation
PROCESSING_FAILED = "processing_failed"  # alerter: an event raised while being processed
SHED = "shed"                            # alerter: load shed above alerter_queue_shed_threshold
WORKER_LOST = "worker_lost"              # janitor: work kept dying with its worker
MOOG_REJECTED = "moog_rejected"          # forwarder: Moogsoft answered a permanent 4xx
RETRIES_EXHAUSTED = "retries_exhausted"  # forwarder: retryable failures used up the budget

REASONS = (INVALID_EVENT, PROCESSING_FAILED, SHED, WORKER_LOST, MOOG_REJECTED, RETRIES_EXHAUSTED)
# Replaying these fails the same way again unless something was fixed: only when an operator asks.
NEEDS_FORCE = (MOOG_REJECTED, INVALID_EVENT)

WAITING, REPLAYED, POISON = DEAD_LETTER_STATES
REPLAY_SOURCE = "replay"       # an event's _source when it comes back from a dead letter
MAX_REPLAY_BACKOFF = 6 * 3600  # seconds

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
    now = datetime.now(UTC)
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


class DeadLetterError(ValueError):
    """A bad filter or request (the API answers 400, the CLI prints it)."""


@dataclass(frozen=True)
class Filter:
    kind: str | None = None
    reason: str | None = None
    state: str | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (("kind", self.kind, (EVENT, ALERT)), ("reason", self.reason, REASONS),
                                     ("state", self.state, DEAD_LETTER_STATES)):
            if value is not None and value not in allowed:
                raise DeadLetterError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")

    def is_empty(self) -> bool:
        return self.kind is None and self.reason is None and self.state is None

    def conditions(self) -> list:
        found = []
        if self.kind is not None:
            found.append(DeadLetter.kind == self.kind)
        if self.reason is not None:
            found.append(DeadLetter.reason == self.reason)
        if self.state is not None:
            found.append(DeadLetter.state == self.state)
        return found


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
                      state: str | None = None, page: int = 1, limit: int = 50) -> Page:
    """One page of dead letters, most recent failure first."""
    if not 1 <= page <= MAX_PAGE or not 1 <= limit <= MAX_PAGE_SIZE:
        raise DeadLetterError(f"page must be between 1 and {MAX_PAGE} and limit between 1 and {MAX_PAGE_SIZE}")
    where = Filter(kind, reason, state).conditions()
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


def as_dict(letter: DeadLetter, with_payload: bool = True) -> dict:
    """The JSON shape of a dead letter (API and CLI)."""
    body = {
        "id": letter.id, "kind": letter.kind, "ref_id": letter.ref_id, "reason": letter.reason,
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


# --- replay ---------------------------------------------------------------------------------

@dataclass
class Pipeline:
    """Where replayed work goes, given by the caller so this module stays free of Celery: the
    ingest buffer in Redis, ``flush_buffer`` (cut the ingest buffer into batches and enqueue
    them: ``mutt_app.ingest.accept.Ingest.flush``) and ``tasks.forwarder.enqueue_alerts``."""

    buffer: EventBuffer
    flush_buffer: Callable[[], int]
    enqueue_alerts: Callable[[list[str]], None]


@dataclass
class Outcome:
    replayed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # id -> why it was not replayed

    def add(self, other: Outcome) -> None:
        self.replayed += other.replayed
        self.skipped.update(other.skipped)


# Why a replay was skipped, when trying again cannot help (remediation parks these as poison).
NO_EVENT = "no stored event to replay"
NO_ALERT = "the alert no longer exists"
ALREADY_DELIVERED = "the alert was delivered meanwhile"
NOT_JSON = "the stored event holds a number JSON cannot carry (NaN or Infinity)"
CANNOT_REPLAY = (NO_EVENT, NO_ALERT, NOT_JSON)

Progress = Callable[[int, int], None]  # (done, total)

CHUNK = 200


def replay_backoff(replays: int) -> timedelta:
    """How long after its ``replays``-th replay a dead letter waits before remediation may replay
    it again: remediation_interval, doubling with each replay, at most six hours."""
    interval = dynconfig.get("remediation_interval")
    return timedelta(seconds=min(interval * 2 ** max(replays - 1, 0), MAX_REPLAY_BACKOFF))


def replay(session: Session, ids: Iterable[int], *, actor: str, reason: str = "", force: bool = False,
           pipeline: Pipeline, progress: Progress | None = None, correlation_id: str = "") -> Outcome:
    """An operator puts dead letters back into the pipeline (the caller commits).

    Events go back into a batch with their own ``_id`` (audit stays idempotent), alerts back to
    ``pending`` with their attempts reset. ``moog_rejected`` and ``invalid_event`` letters, and
    letters already replayed and not failed again, are skipped unless ``force``.
    """
    ids = list(dict.fromkeys(int(i) for i in ids))
    outcome = Outcome()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        letters = {letter.id: letter for letter in session.scalars(select(DeadLetter).where(DeadLetter.id.in_(chunk)))}
        chosen = []
        for letter_id in chunk:
            letter = letters.get(letter_id)
            if letter is None:
                outcome.skipped[letter_id] = "no such dead letter"
            elif not force and letter.reason in NEEDS_FORCE:
                outcome.skipped[letter_id] = f"{letter.reason} fails again unless fixed: replay with force"
            elif not force and letter.state == REPLAYED:
                outcome.skipped[letter_id] = "already replayed and not failed again: replay with force"
            else:
                chosen.append(letter)
        before = {letter.id: (letter.state, letter.replays) for letter in chosen}
        done = replay_letters(session, chosen, pipeline, correlation_id=correlation_id)
        for letter in chosen:
            if letter.id in done.skipped:
                continue
            old_state, old_replays = before[letter.id]
            config_audit.record(session, actor=actor, operation="UPDATE", table="dead_letters", record_id=letter.id,
                         old={"state": old_state, "replays": old_replays},
                         new={"state": letter.state, "replays": letter.replays, "kind": letter.kind, "ref_id": letter.ref_id},
                         reason=reason, correlation_id=correlation_id)
        outcome.add(done)
        if progress:
            progress(min(start + CHUNK, len(ids)), len(ids))
    return outcome


def replay_letters(session: Session, letters: list[DeadLetter], pipeline: Pipeline,
                   now: datetime | None = None, correlation_id: str = "") -> Outcome:
    """Put these dead letters back into the pipeline and mark them replayed (no checks, no audit:
    the shared core of operator replay and remediation). An ``invalid_event`` letter holds what
    the sender sent, so it goes through ingest's validation again (``revalidate``)."""
    now = now or datetime.now(UTC)
    outcome = Outcome()
    event_letters = [letter for letter in letters if letter.kind == EVENT]
    alerts = [letter for letter in letters if letter.kind == ALERT]
    if event_letters:
        outcome.add(_replay_events(event_letters, pipeline, correlation_id))
    if alerts:
        outcome.add(_replay_alerts(session, alerts, pipeline))
    for letter in letters:
        if letter.id not in outcome.skipped:
            letter.state = REPLAYED
            letter.replays += 1
            letter.next_replay_at = now + replay_backoff(letter.replays)
    session.flush()
    return outcome


def revalidate(letter: DeadLetter, correlation_id: str = "") -> dict:
    """The canonical event of an ``invalid_event`` letter, checked as ingest checks a new one
    (``events.EventError`` if it still fails). Its payload is what the sender sent, so MUTT's own
    fields are set here, never taken from it: ``_id`` is the letter's ref_id (a second replay is
    audited once), ``_received_at`` when the letter was first written, ``_source`` and ``_key``
    say replay, ``_correlation_id`` is the replay's."""
    stamp = events.Stamp(correlation_id or uuid.uuid4().hex, letter.first_failed_at.isoformat(),
                         REPLAY_SOURCE, REPLAY_SOURCE)
    event = events.normalise(letter.payload, stamp)
    event["_id"] = letter.ref_id
    return event


def _replay_events(letters: list[DeadLetter], pipeline: Pipeline, correlation_id: str = "") -> Outcome:
    outcome = Outcome()
    documents, sent = [], []
    for letter in letters:
        if not isinstance(letter.payload, dict):
            outcome.skipped[letter.id] = NO_EVENT
            continue
        if letter.reason == INVALID_EVENT:
            try:
                documents.append(events.encode(revalidate(letter, correlation_id), dynconfig.get("max_event_bytes")))
            except events.EventError as error:
                outcome.skipped[letter.id] = f"still not a valid event: {error}"
                continue
        else:  # an event MUTT had accepted and normalised itself
            event = dict(letter.payload)
            event["_id"] = event.get("_id") or letter.ref_id
            event["_source"] = REPLAY_SOURCE
            try:
                documents.append(json.dumps(event, allow_nan=False))
            except ValueError:  # stored before MUTT refused NaN/Infinity (SQLite keeps them)
                outcome.skipped[letter.id] = NOT_JSON
                continue
        sent.append(letter.id)
    if not documents:
        return outcome
    # Into Redis before the caller commits: if the commit then fails, the event is processed and
    # the letter still says waiting, and a second replay is harmless (audit keyed on the event id).
    accepted = pipeline.buffer.accept(documents, key_id=REPLAY_SOURCE, rate_limit=0, rate_window=60,
                                      max_backlog=dynconfig.get("max_ingest_queue_size"))
    if accepted.status != QUEUED:
        outcome.skipped.update({letter_id: "the ingest backlog is full; try again later" for letter_id in sent})
        return outcome
    pipeline.flush_buffer()
    outcome.replayed += sent
    return outcome


def _replay_alerts(session: Session, letters: list[DeadLetter], pipeline: Pipeline) -> Outcome:
    from mutt_app.forwarding.outbox import reopen  # forwarding imports this module

    outcome = Outcome()
    refs = [letter.ref_id for letter in letters]
    reopened = set(reopen(session, refs))
    states = {alert_id: state for alert_id, state in
              session.execute(select(Alert.id, Alert.state).where(Alert.id.in_(set(refs) - reopened)))}
    queued = []
    for letter in letters:
        state = "dead" if letter.ref_id in reopened else states.get(letter.ref_id)
        if state is None:
            outcome.skipped[letter.id] = NO_ALERT
        elif state == "delivered":
            outcome.skipped[letter.id] = ALREADY_DELIVERED
        else:  # reopened, or already pending/sending again: another enqueue is harmless
            queued.append(letter.ref_id)
            outcome.replayed.append(letter.id)
    if queued:
        # After the commit, or the forwarder may find the alert not yet pending. Should the
        # enqueue fail, the janitor re-enqueues the alert when its lease runs out.
        on_commit(session, lambda: pipeline.enqueue_alerts(queued))
    return outcome


# --- purge ----------------------------------------------------------------------------------

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
