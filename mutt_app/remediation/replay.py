"""Replay: dead letters put back into the pipeline, by an operator (``replay``: API, UI, CLI) or
by remediation (``replay_letters``).

Events go back into a batch with their own ``_id`` (the audit stays idempotent), alerts back to
``pending``. Where replayed work goes is given by the caller (``Pipeline``, built by
``mutt_app.handoff.replay_pipeline``), so this module stays free of Celery.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutt_app import dynconfig
from mutt_app.audit import config_audit
from mutt_app.core import ids
from mutt_app.dead_letters.dlq import ALERT, CHUNK, EVENT, INVALID_EVENT, MOOG_REJECTED, REPLAYED, Progress
from mutt_app.forwarding.outbox import reopen
from mutt_app.ingest import events
from mutt_app.ingest.buffer import QUEUED, EventBuffer
from mutt_app.storage.db import on_commit
from mutt_app.storage.models import Alert, DeadLetter

# Replaying these fails the same way again unless something was fixed: only when an operator asks.
NEEDS_FORCE = (MOOG_REJECTED, INVALID_EVENT)
REPLAY_SOURCE = "replay"       # an event's _source when it comes back from a dead letter
MAX_REPLAY_BACKOFF = 6 * 3600  # seconds


@dataclass
class Pipeline:
    """Where replayed work goes, given by the caller so this module stays free of Celery: the
    ingest buffer in Redis, ``flush_buffer`` (cut the ingest buffer into batches and enqueue
    them: ``mutt_app.ingest.accept.Ingest.flush``) and ``mutt_app.handoff.forward_alerts``."""

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


def revalidate(letter: DeadLetter, correlation_id: str = "") -> dict[str, Any]:
    """The canonical event of an ``invalid_event`` letter, checked as ingest checks a new one
    (``events.EventError`` if it still fails). Its payload is what the sender sent, so MUTT's own
    fields are set here, never taken from it: ``_id`` is the letter's ref_id (a second replay is
    audited once), ``_received_at`` when the letter was first written, ``_source`` and ``_key``
    say replay, ``_correlation_id`` is the replay's."""
    stamp = events.Stamp(correlation_id or ids.new_id(), letter.first_failed_at.isoformat(),
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
