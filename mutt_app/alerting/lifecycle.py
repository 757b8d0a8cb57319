"""What happens to a batch of events, from its claim to its completion: one place, in order.

``BatchLifecycle.run(batch_id)`` is the whole of ``mutt.process_events``:

1. claim the batch (``batches.EventBatches``: count the attempt, renew the lease);
2. crash policy: a batch claimed more than ``MAX_BATCH_CLAIMS`` times kept losing its worker: it
   is split into single events, or, a single event, dead-lettered ``worker_lost`` (``recover``);
3. shed: above ``alerter_queue_shed_threshold`` alerts waiting for Moogsoft, defer the batch or
   dead-letter it (``alerter_shed_mode``);
4. decide what the events mean (``decide.process``, pure) and count the unhandled ones in the
   roll-up, which may raise meta-alerts;
5. apply the forwarded events and meta-alerts to their alerts' states (``alert_state``: open,
   refresh, clear, flapping, or nothing) and store the outcome in one transaction (``store``),
   event by event if the database refuses it;
6. hand the alerts to the forwarder;
7. complete the batch (its outcome counts, metrics).

The batch stays in Redis until the last step, so nothing is lost whatever fails in between (a
redelivery is idempotent). When the database is unreachable the claim is forgiven and ``run``
returns a ``Result`` with ``retry_in``: the caller (the Celery task) runs it again after that many
seconds. The janitor calls ``recover`` for a batch whose lease ran out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from redis import Redis

from mutt_app import dynconfig
from mutt_app.alerting import alert_state, decide, store
from mutt_app.alerting.batches import Claim, EventBatches
from mutt_app.alerting.knowledge import KnowledgeCache
from mutt_app.alerting.rollup import Rollup
from mutt_app.core import logs, metrics, outages
from mutt_app.dead_letters import dlq

log = logging.getLogger(__name__)

MAX_BATCH_CLAIMS = 3            # claims after which a batch is split, or its single event dead-lettered
MAX_RETRY_COUNTDOWN = 60        # seconds: database unreachable, retried after 1, 2, 4 ... 60 s

# What became of a batch (Result.status; the task returns it)
ALREADY_DONE, PROCESSED, SHED, DATABASE_DOWN = "already done", "processed", "shed", "database down"
# What the crash policy does with a batch (also Result.status after a recovery)
PROCESS, SPLIT, DEAD_LETTER = "process", "split", "dead_letter"


class Enqueue(Protocol):
    def __call__(self, batch_id: str, countdown: float | None = None) -> None:
        """Ask the alerter to process this (leased) batch, now or after ``countdown`` seconds."""


@dataclass(frozen=True)
class Result:
    status: str
    retry_in: float | None = None  # DATABASE_DOWN: run the batch again after this many seconds
    correlation_id: str = ""


def crash_action(claims: int, size: int, max_claims: int = MAX_BATCH_CLAIMS) -> str:
    """What to do with a batch claimed ``claims`` times so far (each claim that did not finish
    means a worker died with it): process it, split it into single events to isolate the one
    that kills workers, or, for a single event, give up on it as a dead letter ``worker_lost``."""
    if claims <= max_claims:
        return PROCESS
    return SPLIT if size > 1 else DEAD_LETTER


def retry_countdown(retries: int) -> float:
    """Seconds before retry number ``retries + 1`` of a batch whose database was unreachable."""
    return float(min(2 ** retries, MAX_RETRY_COUNTDOWN))


class BatchLifecycle:
    """One process's way through a batch, given what lies outside the domain: the database
    sessions, the rules cache, the alerts-waiting count and the queues (``mutt_app.handoff``)."""

    def __init__(self, redis_client: Redis, *, session_scope: store.SessionScope, knowledge: KnowledgeCache,
                 alerts_waiting: Callable[[], int], enqueue: Enqueue, forward_alerts: Callable[[list[str]], None],
                 lease_seconds: float, events_seen: Callable[[list[Any]], object] | None = None) -> None:
        self.redis = redis_client
        self.batches = EventBatches(redis_client)
        self._rollup = Rollup(redis_client)
        self._session_scope = session_scope
        self._knowledge = knowledge
        self._alerts_waiting = alerts_waiting
        self._enqueue = enqueue
        self._forward_alerts = forward_alerts
        self._lease = lease_seconds
        self._events_seen = events_seen  # heartbeats: who was heard from (mutt_app.operations.heartbeats)

    def run(self, batch_id: str, *, retries: int = 0) -> Result:
        """Claim, decide, store, hand off and complete one batch. ``retries``: how often it was
        retried already because the database was unreachable."""
        claim = self.batches.claim(batch_id, self._lease)
        if claim is None:
            return Result(ALREADY_DONE)
        correlation_id = _correlation_id(claim)
        with logs.correlated(correlation_id):
            if crash_action(claim.attempts, len(claim.events)) != PROCESS:
                return Result(self.recover(batch_id, claim.attempts), correlation_id=correlation_id)
            try:
                return Result(self._process(claim), correlation_id=correlation_id)
            except Exception as error:
                if store.refused(error) or outages.unavailable(error) != outages.DATABASE:
                    raise
                self.batches.forgive(batch_id)
                countdown = retry_countdown(retries)
                self.batches.extend(batch_id, countdown + self._lease)
                log.warning("database unreachable (%s); batch %s retried in %d s", type(error).__name__, batch_id, countdown)
                return Result(DATABASE_DOWN, retry_in=countdown, correlation_id=correlation_id)

    def recover(self, batch_id: str, claims: int) -> str:
        """A batch whose lease ran out after ``claims`` claims is enqueued again, split, or, a single
        event, dead-lettered ``worker_lost``. Returns PROCESS, SPLIT or DEAD_LETTER."""
        size = self.batches.size(batch_id)
        if size == 0:
            return PROCESS  # already completed
        action = crash_action(claims, size)
        if action == PROCESS:
            self._enqueue(batch_id)
        elif action == SPLIT:
            new_ids = self.batches.split(batch_id, self._lease)
            log.warning("batch %s lost its worker %d times: split into %d single-event batches", batch_id, claims, len(new_ids))
            for new_id in new_ids:
                self._enqueue(new_id)
        else:
            claim = self.batches.claim(batch_id, self._lease)
            if claim is None:
                return PROCESS
            with self._session_scope() as session:
                count = store.dead_letter_batch(session, claim.events, dlq.WORKER_LOST, attempts=claims,
                                                error=f"the worker processing this event was lost {claims} times")
            self.batches.complete(batch_id, {"dead_lettered": count})
            log.error("event %s dead-lettered: its worker was lost %d times",
                      decide.event_ref(claim.events[0]) if claim.events else "?", claims)
        return action

    def _process(self, claim: Claim) -> str:
        started = time.perf_counter()
        config = dynconfig.runtime(self.redis)
        if self._shed(claim, config):
            return SHED
        outcome = self._decide(claim, config)
        outcome = self._store(claim, outcome, alert_state.Settings.of(config))
        self._heard_from(claim)
        self._forward_alerts([alert["id"] for alert in outcome.alerts])
        # unhandled events are audit rows now (the dry run reads them there): no more copy in Redis
        for ref, event, error in outcome.failed:
            with logs.correlated(str(event.get("_correlation_id", ""))):
                log.error("event %s dead-lettered (%s): %s", ref, dlq.PROCESSING_FAILED, error)
        counts = {"audited": decide.audited(outcome.audit_rows), "unhandled": len(outcome.unhandled), "dead_lettered": len(outcome.failed)}
        self.batches.complete(claim.batch_id, counts)
        metrics.ALERTER_EVENTS.labels(status="handled").inc(counts["audited"])
        metrics.ALERTER_EVENTS.labels(status="unhandled").inc(counts["unhandled"])
        metrics.ALERTER_EVENTS.labels(status="poison").inc(counts["dead_lettered"])
        for alert in outcome.alerts:
            metrics.ALERTER_ALERTS.labels(kind=alert["kind"]).inc()
        for row in outcome.audit_rows:
            if row.get("silence_id") is not None:
                metrics.ALERTER_SILENCED.labels(silence_id=str(row["silence_id"])).inc()
        metrics.ALERTER_BATCH_LATENCY.observe(time.perf_counter() - started)
        return PROCESSED

    def _heard_from(self, claim: Claim) -> None:
        if self._events_seen is None:
            return
        try:
            self._events_seen(claim.events)
        except Exception:  # noqa: BLE001 - heartbeats must not fail a batch; the checker re-baselines
            log.warning("could not record the sources of batch %s for heartbeats", claim.batch_id, exc_info=True)

    def _shed(self, claim: Claim, config: dynconfig.RuntimeConfig) -> bool:
        """Backpressure: above the shed threshold of alerts waiting for Moogsoft, defer the batch
        or dead-letter it (``alerter_shed_mode``); above the warn threshold, say so."""
        waiting = self._alerts_waiting()
        if waiting > config.get("alerter_queue_shed_threshold"):
            mode = config.get("alerter_shed_mode")
            metrics.ALERTER_SHED.labels(mode=mode).inc(len(claim.events))
            if mode == "dlq":
                with self._session_scope() as session:
                    count = store.dead_letter_batch(session, claim.events, dlq.SHED, attempts=claim.attempts,
                                                    error=f"shed: {waiting} alerts waiting for Moogsoft")
                self.batches.complete(claim.batch_id, {"dead_lettered": count})
                log.warning("shed batch %s (%d events) to dead letters: %d alerts waiting", claim.batch_id, count, waiting)
            else:
                defer = config.get("alerter_defer_seconds")
                self.batches.forgive(claim.batch_id)
                self.batches.extend(claim.batch_id, defer + self._lease)
                self._enqueue(claim.batch_id, countdown=defer)
                log.warning("deferred batch %s by %d s: %d alerts waiting for Moogsoft", claim.batch_id, defer, waiting)
            return True
        if waiting > config.get("alerter_queue_warn_threshold"):
            log.warning("%d alerts waiting for Moogsoft (warn threshold %d)", waiting, config.get("alerter_queue_warn_threshold"))
        return False

    def _decide(self, claim: Claim, config: dynconfig.RuntimeConfig) -> decide.Outcome:
        """What the events mean, and the meta-alerts of unhandled events that reached the threshold."""
        knowledge, _ = self._knowledge.get(self.redis)
        now = datetime.now(UTC)
        alert_lease = config.get("janitor_stuck_after_seconds")
        outcome = decide.process(knowledge, claim.events, now=now, alert_lease_seconds=alert_lease)
        threshold, window = config.get("unhandled_threshold"), config.get("unhandled_window_seconds")
        for trigger in self._rollup.count(outcome.unhandled, threshold=threshold, window_seconds=window):
            meta = decide.meta_alert(knowledge, trigger, threshold=threshold, window_seconds=window,
                                     default_team=config.get("unhandled_default_team"), now=now,
                                     alert_lease_seconds=alert_lease)
            outcome.signals.append(decide.Signal(meta, clears=False, key="", audited=False,
                                                 event_time=meta["event_time"] or now))
            metrics.ALERTER_META_ALERTS.inc()
        return outcome

    def _store(self, claim: Claim, outcome: decide.Outcome, settings: alert_state.Settings) -> decide.Outcome:
        """Apply the events to their alerts and write the outcome in one transaction; returns what
        was written (all of it, unless the database refused the bulk write and some events became
        dead letters instead), with the alerts to send."""
        try:
            with self._session_scope() as session:
                return store.store(session, outcome, attempts=claim.attempts, settings=settings)
        except Exception as error:
            if not store.refused(error):
                raise
            log.warning("bulk write of batch %s refused (%s); writing event by event", claim.batch_id, type(error).__name__)
            return store.store_each(self._session_scope, outcome, attempts=claim.attempts, settings=settings)


def _correlation_id(claim: Claim) -> str:
    first = claim.events[0] if claim.events else None
    return str(first.get("_correlation_id", "")) if isinstance(first, dict) else ""
