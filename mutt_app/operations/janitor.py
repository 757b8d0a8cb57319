"""The janitor: recover work whose worker died, keep partitions ahead, apply retention.

Every piece of work MUTT holds in a non-final state carries a lease (a deadline). A worker that
is SIGKILLed, a message Redis lost, a web process that died with events in the ingest buffer:
each leaves work whose lease runs out, and the janitor (beat, every JANITOR_INTERVAL seconds)
sends it round again. It counts how often the same work was lost, so work that kills its worker
every time ends as a dead letter ``worker_lost`` instead of looping.

Steps, each in its own transaction so one failing step does not stop the others:

a. event batches past their lease: a claimed batch (its worker died) is re-enqueued at once;
   a batch never claimed is most likely still queued behind others, so it is re-enqueued only
   when the ``alerts`` queue is empty or it is long overdue (a lost message) — re-enqueueing a
   whole backlog would double it. A batch that lost its worker more than
   ``mutt_app.alerting.lifecycle.MAX_BATCH_CLAIMS`` times is split into one batch per event; a single
   event that keeps killing workers becomes a dead letter ``worker_lost`` (the alerter's rule).
b. events still in the ingest buffer (a web process died before cutting them into a batch).
c. alerts in ``pending``/``sending`` past their lease: back to ``pending`` and re-enqueued; an
   alert whose worker died ``janitor_max_attempts`` times becomes a dead letter ``worker_lost``.
d. flapping alerts stable for ``flap_window_seconds``: they stop flapping and their current
   state is sent (``mutt_app.alerting.store.settle_flapping``; docs/alerts.md "Flapping").
e. hourly: PostgreSQL audit partitions for the coming months, retention (``retention_*``): event
   and config audit, finished dead letters, finished alerts (never one still pending or sending).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Delete, and_, delete, or_, select, text, update
from sqlalchemy.orm import Session

from mutt_app import dynconfig
from mutt_app.access import api_keys
from mutt_app.alerting import alert_state, store
from mutt_app.alerting.batches import EventBatches
from mutt_app.alerting.lifecycle import DEAD_LETTER, SPLIT
from mutt_app.core import metrics
from mutt_app.dead_letters import dlq
from mutt_app.storage import db, partitions, redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, ConfigAudit, DeadLetter, EventAudit

log = logging.getLogger(__name__)

OVERDUE_FACTOR = 4            # an unclaimed batch/pending alert this many leases late was lost
LOSS_MEMORY_SECONDS = 86_400  # how long the janitor remembers that an alert's worker died
MAINTENANCE_EVERY = 3600      # partitions and retention: seconds between runs
PARTITION_MONTHS_AHEAD = 3
LIMIT = 1000                  # work items per step per run


@dataclass
class Report:
    batches_requeued: int = 0
    batches_split: int = 0
    events_dead_lettered: int = 0
    buffered_events: int = 0
    alerts_requeued: int = 0
    alerts_dead_lettered: int = 0
    flapping_settled: int = 0
    partitions_made: list[str] = field(default_factory=list)
    partitions_dropped: list[str] = field(default_factory=list)
    retention_deleted: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def recovered(self) -> int:
        return self.batches_requeued + self.batches_split + self.buffered_events + self.alerts_requeued


@dataclass
class Queues:
    """What the janitor needs from the task layer: enqueue functions and queue depths."""

    recover_batch: Callable[[str, int], str]  # (batch id, claims) -> PROCESS, SPLIT or DEAD_LETTER
    flush_buffer: Callable[[], int]           # cut the ingest buffer into batches, enqueue them
    enqueue_alerts: Callable[[list[str]], None]
    alerts_waiting: Callable[[], int]  # messages in the alerter's queue
    moog_waiting: Callable[[], int]    # messages in the forwarder's queue


def run(redis_client, queues: Queues, *, maintenance: bool, keep_alive: Callable[[], None] = lambda: None,
        now: datetime | None = None) -> Report:
    """One janitor pass over every step; a failing step is logged and reported, not raised."""
    now = now or datetime.now(UTC)
    report = Report()
    batches = EventBatches(redis_client)
    steps = [
        ("batches", lambda: recover_batches(batches, queues, report)),
        ("ingest buffer", lambda: setattr(report, "buffered_events", queues.flush_buffer())),
        ("alerts", lambda: recover_alerts(redis_client, queues, report, now)),
        ("flapping alerts", lambda: settle_flapping(redis_client, queues, report, now)),
        ("api key last use", lambda: _in_session(lambda s: api_keys.sync_last_used(s, redis_client))),
    ]
    if maintenance:
        steps.append(("partitions", lambda: _in_session(lambda s: keep_partitions(s, report, now))))
        steps.append(("retention", lambda: _in_session(lambda s: apply_retention(s, report, now))))
    for name, step in steps:
        try:
            step()
        except Exception as error:  # noqa: BLE001 - the other steps still run
            log.exception("janitor step %s failed", name)
            report.errors.append(f"{name}: {type(error).__name__}: {error}"[:300])
        keep_alive()
    for kind, count in (("batch", report.batches_requeued + report.batches_split), ("buffered event", report.buffered_events),
                        ("alert", report.alerts_requeued)):
        if count:
            metrics.JANITOR_RECOVERED.labels(kind=kind).inc(count)
    if report.flapping_settled:
        log.info("janitor: %d flapping alerts stable again, their state sent", report.flapping_settled)
    if report.recovered() or report.events_dead_lettered or report.alerts_dead_lettered:
        log.warning("janitor recovered stuck work: %s", report)
    return report


def _in_session(action: Callable[[Session], object]) -> None:
    with session_scope() as session:
        action(session)


def settle_flapping(redis_client, queues: Queues, report: Report, now: datetime) -> None:
    config = dynconfig.runtime(redis_client)
    with session_scope() as session:
        alerts = store.settle_flapping(session, now, alert_state.Settings.of(config), limit=LIMIT,
                                       lease_seconds=config.get("janitor_stuck_after_seconds"))
    if alerts:
        queues.enqueue_alerts([alert["id"] for alert in alerts])
    report.flapping_settled = len(alerts)


# --- a. event batches -----------------------------------------------------------------------

def recover_batches(batches: EventBatches, queues: Queues, report: Report) -> None:
    """Send expired batches round again; ``queues.recover_batch`` (the alerter's rule) re-enqueues
    a batch, splits one that keeps losing its worker, or dead-letters its single event."""
    stuck_after = dynconfig.get("janitor_stuck_after_seconds")
    expired = batches.expired(limit=LIMIT)
    if not expired:
        return
    long_overdue = _long_overdue(batches.redis, stuck_after)
    queue_empty = None
    for batch_id, claims in expired:
        if claims == 0 and batch_id not in long_overdue:
            if queue_empty is None:
                queue_empty = queues.alerts_waiting() == 0
            if not queue_empty:
                continue  # most likely still queued behind others
        batches.extend(batch_id, stuck_after)  # not again next run, unless it is lost again
        action = queues.recover_batch(batch_id, claims)
        if action == SPLIT:
            report.batches_split += 1
        elif action == DEAD_LETTER:
            report.events_dead_lettered += 1
        else:
            report.batches_requeued += 1


def _long_overdue(redis_client, stuck_after: float) -> set[str]:
    cutoff = time.time() - OVERDUE_FACTOR * stuck_after
    return set(redis_client.zrangebyscore(redis_keys.BATCHES_PENDING, "-inf", cutoff, start=0, num=LIMIT))


# --- c. alerts ------------------------------------------------------------------------------

def recover_alerts(redis_client, queues: Queues, report: Report, now: datetime) -> None:
    stuck_after = dynconfig.get("janitor_stuck_after_seconds")
    max_attempts = dynconfig.get("janitor_max_attempts")
    with session_scope() as session:
        stuck = session.execute(
            select(Alert.id, Alert.state, Alert.lease_until)
            .where(Alert.state.in_(("pending", "sending")), Alert.lease_until < now)
            .order_by(Alert.lease_until).limit(LIMIT)
        ).all()
        if not stuck:
            return
        overdue_before = now - timedelta(seconds=OVERDUE_FACTOR * stuck_after)
        requeue: list[str] = []
        lost: list[str] = []
        moved: Sequence[str] = ()
        queue_empty = None
        for alert_id, state, lease_until in stuck:
            if state == "sending":
                lost.append(alert_id)  # claimed, and the worker's time is up: it died
                continue
            if lease_until is not None and lease_until >= overdue_before:  # never None: the query asked for lease_until < now
                if queue_empty is None:
                    queue_empty = queues.moog_waiting() == 0
                if not queue_empty:
                    continue  # most likely still queued behind others
            requeue.append(alert_id)
        dead: list[str] = []
        for alert_id in lost:
            if _count_loss(redis_client, alert_id) >= max_attempts:
                dead.append(alert_id)
            else:
                requeue.append(alert_id)
        if dead:
            report.alerts_dead_lettered = _dead_letter_alerts(session, dead, max_attempts, now)
        if requeue:
            moved = session.scalars(
                update(Alert)
                .where(Alert.id.in_(requeue), Alert.state.in_(("pending", "sending")), Alert.lease_until < now)
                .values(state="pending", lease_until=now + timedelta(seconds=stuck_after))
                .returning(Alert.id)
                .execution_options(synchronize_session=False)
            ).all()
            report.alerts_requeued = len(moved)
    if report.alerts_dead_lettered:
        for alert_id in dead:
            redis_client.delete(redis_keys.alert_losses(alert_id))
    if report.alerts_requeued:
        queues.enqueue_alerts(list(moved))


def _count_loss(redis_client, alert_id: str) -> int:
    pipe = redis_client.pipeline()
    pipe.incr(redis_keys.alert_losses(alert_id))
    pipe.expire(redis_keys.alert_losses(alert_id), LOSS_MEMORY_SECONDS)
    return int(pipe.execute()[0])


def _dead_letter_alerts(session: Session, alert_ids: list[str], losses: int, now: datetime) -> int:
    alerts = session.scalars(
        select(Alert).where(Alert.id.in_(alert_ids), Alert.state == "sending", Alert.lease_until < now)
    ).all()
    error = f"the worker sending this alert died {losses} times"
    for alert in alerts:
        alert.state, alert.last_error = "dead", error
    dlq.record_many(session, dlq.ALERT, dlq.WORKER_LOST,
                    [(alert.id, alert_summary(alert), error) for alert in alerts],
                    attempts=max((alert.attempts for alert in alerts), default=0))
    return len(alerts)


def alert_summary(alert: Alert) -> dict:
    """What a dead letter of an alert keeps: enough to see what it was without the alerts table."""
    return {
        "alert_id": alert.id, "kind": alert.kind, "rule_id": alert.rule_id, "rule_name": alert.rule_name,
        "hostname": alert.hostname, "team": alert.team, "severity": alert.severity, "decision": alert.decision,
        "environment": alert.environment, "signature": alert.signature, "description": alert.description,
        "correlation_id": alert.correlation_id, "event": alert.event,
    }


# --- d. partitions and retention ------------------------------------------------------------

def keep_partitions(session: Session, report: Report, now: datetime) -> None:
    report.partitions_made = partitions.ensure_ahead(session.connection(), PARTITION_MONTHS_AHEAD, today=now.date())


def apply_retention(session: Session, report: Report, now: datetime) -> None:
    """Delete what is older than the retention settings; whole months of event audit on PostgreSQL."""
    event_cutoff = now - timedelta(days=dynconfig.get("retention_event_audit_days"))
    config_cutoff = now - timedelta(days=dynconfig.get("retention_config_audit_days"))
    letter_cutoff = now - timedelta(days=dynconfig.get("retention_dead_letter_days"))
    connection = session.connection()
    deleted = {}
    if connection.dialect.name == "postgresql":
        report.partitions_dropped = partitions.drop_older_than(connection, event_cutoff.date())
        # rows the DEFAULT partition caught (months without a partition) go row by row
        deleted["event_audit"] = connection.execute(
            text(f"DELETE FROM {partitions.DEFAULT_PARTITION} WHERE received_at < :cutoff"), {"cutoff": event_cutoff}
        ).rowcount
    else:
        deleted["event_audit"] = _delete(session, delete(EventAudit).where(EventAudit.received_at < event_cutoff))
    deleted["config_audit"] = _delete(session, delete(ConfigAudit).where(ConfigAudit.changed_at < config_cutoff))
    deleted["dead_letters"] = _delete(session, delete(DeadLetter).where(
        DeadLetter.state.in_((dlq.REPLAYED, dlq.POISON)), DeadLetter.last_failed_at < letter_cutoff))
    deleted["alerts"] = _delete(session, finished_alerts_before(now - timedelta(days=dynconfig.get("retention_alert_days"))))
    report.retention_deleted = {table: count for table, count in deleted.items() if count}
    if report.retention_deleted or report.partitions_dropped:
        log.info("retention: deleted %s, dropped partitions %s", report.retention_deleted, report.partitions_dropped)


def finished_alerts_before(cutoff: datetime):
    """DELETE of the outbox rows that are done with: delivered, or dead with no dead letter left
    (a dead letter's replay needs its alert row), last changed before ``cutoff``. An alert still
    ``pending`` or ``sending`` is never deleted, however old."""
    letter_holds_it = select(DeadLetter.id).where(DeadLetter.kind == dlq.ALERT, DeadLetter.ref_id == Alert.id).exists()
    return delete(Alert).where(
        Alert.updated_at < cutoff,
        or_(Alert.state == "delivered", and_(Alert.state == "dead", ~letter_holds_it)),
    )


def _delete(session: Session, statement: Delete) -> int:
    return db.rows_changed(session.execute(statement.execution_options(synchronize_session=False))) or 0
