"""mutt.process_events: one batch of events, claim -> decide -> store -> hand off -> complete.

Thin: the way through a batch is ``mutt_app.alerting.lifecycle.BatchLifecycle.run``; this task
gives it the process's rules cache, the alerts-waiting count and the queues, and turns "the
database is unreachable" into a Celery retry with a countdown. The batch stays in Redis until it
completes, so nothing is lost whatever fails in between (a redelivery is idempotent).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import MaxRetriesExceededError
from celery.signals import worker_process_init

import celeryconfig
from celeryconfig import ALERTS_QUEUE
from mutt_app import handoff, services
from mutt_app.alerting import knowledge as rule_knowledge
from mutt_app.alerting import store
from mutt_app.alerting.knowledge import Knowledge, KnowledgeCache
from mutt_app.alerting.lifecycle import BatchLifecycle
from mutt_app.celery_app import app, in_background
from mutt_app.core import logs, metrics
from mutt_app.operations.heartbeats import Recorder
from mutt_app.storage import db, redis_client
from mutt_app.suppression import silence_store
from mutt_app.suppression.silences import SilenceSet

log = logging.getLogger(__name__)

DB_RETRIES = 12            # database unreachable: retry with backoff 1, 2, 4 ... 60 s (about 8 minutes)
BACKLOG_CHECK_SECONDS = 1.0
BACKLOG = "alerter backlog"  # this process's count of alerts waiting for Moogsoft (Services.every)
RULES = "alerter rules"  # this process's rules, hosts and teams (Services.own)


def _load(version: str | None) -> Knowledge:
    with db.session_scope() as session:
        knowledge = rule_knowledge.load(session, version)
    metrics.ALERTER_RULES_RELOADS.inc()
    log.info("rule set loaded: %d active rules (version %s)", len(knowledge.rules), version)
    return knowledge


def _load_silences(version: str | None) -> SilenceSet:
    with db.session_scope() as session:
        silences = silence_store.load(session, version=version)
    log.info("silences loaded: %d not over (version %s)", len(silences), version)
    return silences


def _knowledge() -> KnowledgeCache:
    """This process's rules, hosts, teams and silences."""
    return services.current().own(RULES, lambda: KnowledgeCache(_load, silence_store.SilenceCache(_load_silences)))



@worker_process_init.connect
def _load_rules_at_start(**_kwargs: Any) -> None:
    """A pool process that takes alerter batches loads the rule set as it starts, in the background,
    not in its first batch, whose events would wait for it (a few hundred ms for 500 rules)."""
    if ALERTS_QUEUE in app.amqp.queues.consume_from:
        redis = redis_client.get()
        in_background("load-rules", lambda: _knowledge().get(redis))


def _alerts_waiting() -> int:
    """Alerts waiting for Moogsoft, counted at most once per BACKLOG_CHECK_SECONDS in this process."""

    def count() -> int:
        with db.session_scope() as session:
            return store.alerts_waiting(session)

    return services.current().every(BACKLOG, BACKLOG_CHECK_SECONDS, count)


def _lifecycle() -> BatchLifecycle:
    return BatchLifecycle(redis_client.get(), session_scope=db.session_scope, knowledge=_knowledge(),
                          alerts_waiting=_alerts_waiting, enqueue=handoff.process_batch,
                          forward_alerts=handoff.forward_alerts, lease_seconds=float(celeryconfig.claim_lease_seconds),
                          events_seen=Recorder(redis_client.get()).seen)


@app.task(name="mutt.process_events", bind=True, max_retries=DB_RETRIES)
def process_events(self: Task, batch_id: str) -> str:
    result = _lifecycle().run(batch_id, retries=self.request.retries)
    if result.retry_in is None:
        return result.status
    try:
        raise self.retry(countdown=result.retry_in)
    except MaxRetriesExceededError:
        with logs.correlated(result.correlation_id):
            log.error("database unreachable after %d retries; batch %s stays in Redis for the janitor",
                      DB_RETRIES, batch_id)
        return "left for the janitor"


def recover_batch(batch_id: str, claims: int) -> str:
    """For the janitor: a batch whose lease ran out after ``claims`` claims is enqueued again,
    split into single events, or (a single event) dead-lettered ``worker_lost``."""
    return _lifecycle().recover(batch_id, claims)
