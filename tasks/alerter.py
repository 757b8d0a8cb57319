"""mutt.process_events: one batch of events through rules, audit and roll-up.

Thin: claim the batch, let ``mutt_app.alerting.alerter`` decide, write the outcome in one transaction,
hand the alerts to the forwarder, retire the batch. The batch stays in Redis until that last
step, so nothing is lost whatever fails in between (a redelivery is idempotent).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from celery.exceptions import MaxRetriesExceededError
from celery.signals import worker_process_init

import celeryconfig
from celeryconfig import ALERTS_QUEUE
from mutt_app import handoff
from mutt_app.alerting import alerter
from mutt_app.alerting.batches import Claim, EventBatches
from mutt_app.alerting.rollup import Rollup
from mutt_app.celery_app import app, in_background
from mutt_app.core import dynconfig, logs, metrics, outages
from mutt_app.dead_letters import dlq
from mutt_app.rules import rulebook
from mutt_app.storage import db, redis_client

log = logging.getLogger(__name__)

DB_RETRIES = 12            # database unreachable: retry with backoff 1, 2, 4 ... 60 s (about 8 minutes)
BACKLOG_CHECK_SECONDS = 1.0


def _load(version: str | None) -> alerter.Knowledge:
    with db.session_scope() as session:
        knowledge = rulebook.load_knowledge(session, version)
    metrics.ALERTER_RULES_RELOADS.inc()
    log.info("rule set loaded: %d active rules (version %s)", len(knowledge.rules), version)
    return knowledge


_knowledge = alerter.KnowledgeCache(_load)
_backlog: tuple[float, int] = (0.0, 0)


@worker_process_init.connect
def _load_rules_at_start(**_kwargs) -> None:
    """A pool process that takes alerter batches loads the rule set as it starts, in the background,
    not in its first batch, whose events would wait for it (a few hundred ms for 500 rules)."""
    if ALERTS_QUEUE in app.amqp.queues.consume_from:
        redis = redis_client.get()
        in_background("load-rules", lambda: _knowledge.get(redis))


def _alerts_waiting() -> int:
    global _backlog
    checked_at, waiting = _backlog
    if time.monotonic() - checked_at > BACKLOG_CHECK_SECONDS:
        with db.session_scope() as session:
            waiting = alerter.alerts_waiting(session)
        _backlog = (time.monotonic(), waiting)
    return waiting


@app.task(name="mutt.process_events", bind=True, max_retries=DB_RETRIES)
def process_events(self, batch_id: str) -> str:
    redis = redis_client.get()
    batches = EventBatches(redis)
    lease = float(celeryconfig.claim_lease_seconds)
    claim = batches.claim(batch_id, lease)
    if claim is None:
        return "already done"
    with logs.correlated(_correlation_id(claim)):
        if alerter.crash_action(claim.attempts, len(claim.events)) != alerter.PROCESS:
            return recover_batch(batch_id, claim.attempts)
        try:
            return _process(batches, claim, lease)
        except Exception as error:
            if alerter.refused(error) or not _database_down(error):
                raise
            alerter.forgive_claim(redis, batch_id)
            countdown = min(2 ** self.request.retries, 60)
            batches.extend(batch_id, countdown + lease)
            log.warning("database unreachable (%s); batch %s retried in %d s", type(error).__name__, batch_id, countdown)
            try:
                raise self.retry(countdown=countdown)
            except MaxRetriesExceededError:
                log.error("database unreachable after %d retries; batch %s stays in Redis for the janitor",
                          DB_RETRIES, batch_id)
                return "left for the janitor"


def _database_down(error: BaseException) -> bool:
    return outages.unavailable(error) == outages.DATABASE


def _correlation_id(claim: Claim) -> str:
    first = claim.events[0] if claim.events else None
    return str(first.get("_correlation_id", "")) if isinstance(first, dict) else ""


def _process(batches: EventBatches, claim: Claim, lease: float) -> str:
    started = time.perf_counter()
    config = dynconfig.runtime(batches.redis)
    if _shed(batches, claim, config, lease):
        return "shed"
    knowledge, _ = _knowledge.get(batches.redis)
    now = datetime.now(UTC)
    alert_lease = config.get("janitor_stuck_after_seconds")
    outcome = alerter.process(knowledge, claim.events, now=now, alert_lease_seconds=alert_lease)
    threshold, window = config.get("unhandled_threshold"), config.get("unhandled_window_seconds")
    rollup = Rollup(batches.redis)
    for trigger in rollup.count(outcome.unhandled, threshold=threshold, window_seconds=window):
        outcome.alerts.append(alerter.meta_alert(
            knowledge, trigger, threshold=threshold, window_seconds=window,
            default_team=config.get("unhandled_default_team"), now=now, alert_lease_seconds=alert_lease,
        ))
        metrics.ALERTER_META_ALERTS.inc()
    try:
        with db.session_scope() as session:
            alerter.store(session, outcome, attempts=claim.attempts)
    except Exception as error:
        if not alerter.refused(error):
            raise
        log.warning("bulk write of batch %s refused (%s); writing event by event", claim.batch_id, type(error).__name__)
        outcome = alerter.store_each(db.session_scope, outcome, attempts=claim.attempts)
    handoff.forward_alerts([alert["id"] for alert in outcome.alerts])
    rollup.remember(outcome.unhandled)
    for ref, event, error in outcome.failed:
        with logs.correlated(str(event.get("_correlation_id", ""))):
            log.error("event %s dead-lettered (%s): %s", ref, dlq.PROCESSING_FAILED, error)
    counts = {"audited": len(outcome.audit_rows), "unhandled": len(outcome.unhandled), "dead_lettered": len(outcome.failed)}
    batches.complete(claim.batch_id, counts)
    metrics.ALERTER_EVENTS.labels(status="handled").inc(counts["audited"])
    metrics.ALERTER_EVENTS.labels(status="unhandled").inc(counts["unhandled"])
    metrics.ALERTER_EVENTS.labels(status="poison").inc(counts["dead_lettered"])
    for alert in outcome.alerts:
        metrics.ALERTER_ALERTS.labels(kind=alert["kind"]).inc()
    metrics.ALERTER_BATCH_LATENCY.observe(time.perf_counter() - started)
    return "processed"


def _shed(batches: EventBatches, claim: Claim, config, lease: float) -> bool:
    """Backpressure: above the shed threshold of alerts waiting for Moogsoft, defer the batch
    or dead-letter it (``alerter_shed_mode``); above the warn threshold, say so."""
    waiting = _alerts_waiting()
    if waiting > config.get("alerter_queue_shed_threshold"):
        mode = config.get("alerter_shed_mode")
        metrics.ALERTER_SHED.labels(mode=mode).inc(len(claim.events))
        if mode == "dlq":
            with db.session_scope() as session:
                count = alerter.dead_letter_batch(session, claim.events, dlq.SHED, attempts=claim.attempts,
                                                  error=f"shed: {waiting} alerts waiting for Moogsoft")
            batches.complete(claim.batch_id, {"dead_lettered": count})
            log.warning("shed batch %s (%d events) to dead letters: %d alerts waiting", claim.batch_id, count, waiting)
        else:
            defer = config.get("alerter_defer_seconds")
            alerter.forgive_claim(batches.redis, claim.batch_id)
            batches.extend(claim.batch_id, defer + lease)
            handoff.process_batch(claim.batch_id, countdown=defer)
            log.warning("deferred batch %s by %d s: %d alerts waiting for Moogsoft", claim.batch_id, defer, waiting)
        return True
    if waiting > config.get("alerter_queue_warn_threshold"):
        log.warning("%d alerts waiting for Moogsoft (warn threshold %d)", waiting, config.get("alerter_queue_warn_threshold"))
    return False


def recover_batch(batch_id: str, claims: int) -> str:
    """For the janitor: a batch whose lease ran out after ``claims`` claims is enqueued again,
    split into single events, or (a single event) dead-lettered ``worker_lost``."""
    return alerter.recover_batch(EventBatches(redis_client.get()), batch_id, claims, session_scope=db.session_scope,
                                 enqueue=handoff.process_batch, lease_seconds=float(celeryconfig.claim_lease_seconds))
