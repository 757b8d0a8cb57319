"""Automatic remediation: put dead letters whose cause has cleared back into the pipeline, a few at a time.

What counts as "cleared", by kind and reason:

- alert letters (``retries_exhausted``, ``worker_lost``): only while the circuit breaker is
  closed, i.e. Moogsoft took the last sends. Unlike v2.5, MUTT never probes Moogsoft with fake
  events; the breaker's own single probe decides.
- event letters (``processing_failed``, ``worker_lost``; ``shed`` once the alerts waiting for
  Moogsoft are below ``alerter_queue_warn_threshold`` again).
- ``moog_rejected`` and ``invalid_event`` are never replayed here: they fail the same way until a
  human fixes something and replays them (``mutt dlq replay --force``).

Each replay pushes the letter's ``next_replay_at`` further out (``replay.replay_backoff``); a letter
that has been replayed ``remediation_max_replays`` times and failed again is parked as ``poison``
and stays for a human. So remediation never loops on a letter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from mutt_app import dynconfig
from mutt_app.core import metrics
from mutt_app.dead_letters import dlq
from mutt_app.remediation import replay
from mutt_app.storage import db
from mutt_app.storage.models import Alert, DeadLetter

log = logging.getLogger(__name__)

ALERT_REASONS = (dlq.RETRIES_EXHAUSTED, dlq.WORKER_LOST)
EVENT_REASONS = (dlq.PROCESSING_FAILED, dlq.WORKER_LOST, dlq.SHED)


@dataclass
class Report:
    poisoned: int = 0
    replayed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    held_back: list[str] = field(default_factory=list)  # causes not yet cleared


def alerts_waiting(session: Session) -> int:
    """Alerts not yet delivered (what the alerter's shed threshold is measured against)."""
    return session.scalar(select(func.count()).select_from(Alert).where(Alert.state.in_(("pending", "sending")))) or 0


def run(session: Session, pipeline: replay.Pipeline, *, breaker_state: str, now: datetime | None = None) -> Report:
    """One remediation pass (the caller commits)."""
    now = now or datetime.now(UTC)
    report = Report()
    report.poisoned = park_poison(session, dynconfig.get("remediation_max_replays"))
    eligible = []
    if breaker_state == "closed":
        eligible.append(and_(DeadLetter.kind == dlq.ALERT, DeadLetter.reason.in_(ALERT_REASONS)))
    else:
        report.held_back.append(f"alert letters: the circuit breaker is {breaker_state}")
    event_reasons = list(EVENT_REASONS)
    if alerts_waiting(session) >= dynconfig.get("alerter_queue_warn_threshold"):
        event_reasons.remove(dlq.SHED)
        report.held_back.append("shed events: the alerts waiting for Moogsoft are still above alerter_queue_warn_threshold")
    eligible.append(and_(DeadLetter.kind == dlq.EVENT, DeadLetter.reason.in_(event_reasons)))
    letters = session.scalars(
        select(DeadLetter)
        .where(DeadLetter.state == dlq.WAITING, or_(*eligible),
               or_(DeadLetter.next_replay_at.is_(None), DeadLetter.next_replay_at <= now))
        .order_by(DeadLetter.last_failed_at, DeadLetter.id)
        .limit(dynconfig.get("remediation_batch_size"))
    ).all()
    if letters:
        outcome = replay.replay_letters(session, list(letters), pipeline, now=now)
        report.replayed, report.skipped = outcome.replayed, outcome.skipped
        for letter in letters:
            why = outcome.skipped.get(letter.id)
            if why == replay.ALREADY_DELIVERED:
                letter.state = dlq.REPLAYED
            elif why in replay.CANNOT_REPLAY:
                letter.state = dlq.POISON
                report.poisoned += 1
            elif why:  # e.g. the ingest backlog is full: later, not at once
                letter.next_replay_at = now + replay.replay_backoff(letter.replays + 1)
        metrics.REMEDIATION_REPLAYS.labels(result="replayed").inc(len(outcome.replayed))
        if outcome.skipped:
            metrics.REMEDIATION_REPLAYS.labels(result="skipped").inc(len(outcome.skipped))
    if report.poisoned or letters:
        log.info("remediation: %d replayed, %d skipped, %d parked as poison",
                 len(report.replayed), len(report.skipped), report.poisoned)
    return report


def park_poison(session: Session, max_replays: int) -> int:
    """Letters replayed ``max_replays`` times that failed yet again become poison."""
    result = session.execute(
        update(DeadLetter)
        .where(DeadLetter.state == dlq.WAITING, DeadLetter.replays >= max_replays)
        .values(state=dlq.POISON)
        .execution_options(synchronize_session=False)
    )
    parked = db.rows_changed(result) or 0
    if parked:
        metrics.REMEDIATION_POISON.inc(parked)
        log.warning("remediation: %d dead letter(s) failed after %d replays and are parked as poison", parked, max_replays)
    return parked
