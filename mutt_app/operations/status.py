"""What MUTT is doing right now, gathered for `mutt status`, the dashboard and the metrics gauges.

Each part is gathered on its own: a part that cannot be read (broker down, breaker not deployed,
database unreachable) reads ``{"error": ...}`` and the others are still shown. ``problems`` lists,
in words, what an operator should act on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutt_app import config, dynconfig
from mutt_app.ingest.buffer import RATE_BUCKETS
from mutt_app.operations import supervisor
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, DeadLetter

DEAD_LETTER_STATES = ("waiting", "replayed", "poison")
_MINUTE_FORMAT = next(fmt for bucket, fmt, _ in RATE_BUCKETS if bucket == "1m")


def guarded(gather, *args, **kwargs) -> Any:
    try:
        return gather(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - one unreadable part must not hide the others
        return {"error": f"{type(error).__name__}: {error}".strip()[:300]}


def queue_depths(celery_app, queues) -> dict[str, Any]:
    """Messages waiting in each Celery queue, and (Redis broker) messages held unacknowledged
    by workers: running, prefetched, or waiting for a retry countdown."""
    depths: dict[str, int | None] = {}
    with celery_app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1)
        redis_broker = connection.transport.driver_type == "redis"
        channel = connection.channel()
        for queue in queues:
            try:
                depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except connection.channel_errors:
                # Redis: an empty queue is a missing list. RabbitMQ: no worker declared it yet,
                # and the failed passive declare closed the channel.
                depths[queue] = 0 if redis_broker else None
                if not redis_broker:
                    channel = connection.channel()
        unacked = channel.client.hlen(channel.unacked_key) if redis_broker else None
        channel.close()
    return {"waiting": depths, "unacked": unacked}


def workers(celery_app, timeout: float = 1.0) -> dict[str, list[str]]:
    """The workers that answered within ``timeout`` seconds, each with the queues it consumes."""
    replies = celery_app.control.inspect(timeout=timeout).active_queues() or {}
    return {name: sorted(q["name"] for q in queues) for name, queues in sorted(replies.items())}


def ingest(redis_client, now: datetime | None = None) -> dict[str, int]:
    """Events accepted and not yet processed, the part still waiting to be cut into a batch,
    batches waiting for (or held by) the alerter, and events accepted per minute."""
    now = now or datetime.now(UTC)
    this_minute = redis_keys.ingest_rate("1m", now.strftime(_MINUTE_FORMAT))
    last_minute = redis_keys.ingest_rate("1m", (now - timedelta(minutes=1)).strftime(_MINUTE_FORMAT))
    pipe = redis_client.pipeline(transaction=False)
    pipe.get(redis_keys.INGEST_BACKLOG).llen(redis_keys.INGEST_BUFFER).zcard(redis_keys.BATCHES_PENDING)
    pipe.get(last_minute).get(this_minute)
    backlog, buffered, batches, last, current = pipe.execute()
    return {
        "backlog": int(backlog or 0),
        "buffered": int(buffered or 0),
        "batches_pending": int(batches or 0),
        "events_last_minute": int(last or 0),
        "events_this_minute": int(current or 0),
    }


LISTENER_COUNTERS = ("received", "dropped", "denied")


def listeners(redis_client) -> dict[str, dict[str, int]]:
    """What each native listener (`mutt listen`: syslog-udp, syslog-tcp) received, dropped (UDP,
    while the backlog was full) and denied (a sender in no source), over every listener process
    since the counters began; {} when none ever ran."""
    result: dict[str, dict[str, int]] = {}
    for field, value in redis_client.hgetall(redis_keys.LISTENER_STATS).items():
        field = field.decode() if isinstance(field, bytes) else field
        listener, _, counter = field.rpartition(":")
        result.setdefault(listener, dict.fromkeys(LISTENER_COUNTERS, 0))[counter] = int(value)
    return dict(sorted(result.items()))


def dead_letters(session: Session) -> dict[str, int]:
    counts = dict.fromkeys(DEAD_LETTER_STATES, 0)
    for state, count in session.execute(select(DeadLetter.state, func.count()).group_by(DeadLetter.state)):
        counts[state] = count
    return counts


def alerts(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Alerts by state (delivered and dead not counted: they only grow) and delivered in the last minute."""
    now = now or datetime.now(UTC)
    counts = dict.fromkeys(("pending", "sending"), 0)
    rows = session.execute(select(Alert.state, func.count()).where(Alert.state.in_(counts)).group_by(Alert.state))
    for state, count in rows:
        counts[state] = count
    counts["delivered_last_minute"] = session.scalar(
        select(func.count()).select_from(Alert)
        # updated_at is set with delivered_at: the condition on it lets (state, updated_at) be the index read
        .where(Alert.state == "delivered", Alert.updated_at >= now - timedelta(minutes=1),
               Alert.delivered_at >= now - timedelta(minutes=1))
    ) or 0
    return counts


def forwarding(session: Session, window: float, now: datetime | None = None) -> dict[str, Any]:
    """Are alerts getting out? The oldest alert still waiting (pending or sending) and why,
    alerts dead-lettered within the last ``window`` seconds, and whether any alert was delivered
    within it (asked only when one of the first two says something is wrong: that query reads
    delivered rows, which only grow)."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=window)
    oldest = session.execute(
        select(Alert.created_at, Alert.attempts, Alert.last_status, Alert.last_error)
        .where(Alert.state.in_(("pending", "sending"))).order_by(Alert.created_at).limit(1)
    ).first()
    waited = max(0.0, (now - aware(oldest.created_at)).total_seconds()) if oldest else 0.0
    dead = session.scalar(select(func.count()).select_from(DeadLetter)
                          .where(DeadLetter.kind == "alert", DeadLetter.last_failed_at >= since)) or 0
    delivered = None
    if waited > window or dead:
        delivered = session.scalar(select(Alert.id).where(Alert.state == "delivered", Alert.delivered_at >= since)
                                   .limit(1)) is not None
    return {
        "window_seconds": window,
        "oldest_waiting_seconds": round(waited),
        "oldest_attempts": oldest.attempts if oldest else 0,
        "oldest_last_error": (oldest.last_error or "")[:200] if oldest else "",
        "dead_lettered_in_window": dead,
        "delivered_in_window": delivered,
    }


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def forwarding_problems(part: dict[str, Any]) -> list[str]:
    """What :func:`forwarding` found wrong, in words (for `mutt status`, /health/forwarder, the dashboard)."""
    if "error" in part or part["delivered_in_window"] is not False:
        return []
    window = part["window_seconds"]
    found = []
    if part["oldest_waiting_seconds"] > window:
        why = (f"{part['oldest_attempts']} attempts, last error: {part['oldest_last_error'] or 'none recorded'}"
               if part["oldest_attempts"] else "never sent: no Moogsoft endpoint set (MOOG_WEBHOOK_URL), "
               "no worker on the moog queue, or the circuit breaker holds it")
        found.append(f"forwarding is stalled: an alert has waited {part['oldest_waiting_seconds']} s and none was "
                     f"delivered in the last {window:g} s ({why})")
    if part["dead_lettered_in_window"]:
        found.append(f"forwarding is failing: {part['dead_lettered_in_window']} alerts became dead letters in the "
                     f"last {window:g} s and none was delivered (mutt dlq list)")
    return found


def breaker(redis_client) -> dict[str, Any]:
    from mutt_app.forwarding.breaker import CircuitBreaker

    snapshot = CircuitBreaker(redis_client).snapshot()
    return {k: snapshot[k] for k in ("state", "failures", "threshold", "probe_at")}


def _in_session(query):
    with session_scope() as session:
        return query(session)


def problems(report: dict[str, Any]) -> list[str]:
    """What needs a human, in words."""
    def readable(part: str) -> dict:
        value = report[part]
        return {} if "error" in value else value

    found = [f"cannot read {part}: {value['error']}" for part, value in report.items()
             if isinstance(value, dict) and "error" in value]
    if report["workers"] is not None and "error" not in report["workers"]:
        consumed = {queue for queues in report["workers"].values() for queue in queues}
        if not report["workers"]:
            found.append("no worker answered: nothing is being processed")
        else:
            found += [f"no worker consumes queue {queue}" for queue in readable("queues").get("waiting", {})
                      if queue not in consumed]
    if readable("breaker").get("state") == "open":
        found.append("the circuit breaker is open: Moogsoft is failing, alerts wait")
    elif readable("breaker").get("state") == "half_open":
        found.append("the circuit breaker is half-open: Moogsoft was failing, one probe is testing it")
    found += forwarding_problems(report["forwarding"])
    if readable("dead_letters").get("poison"):
        found.append(f"{report['dead_letters']['poison']} poison dead letters need a human (mutt dlq list)")
    return found


def gather(celery_app, redis_client, queues, worker_timeout: float | None = 1.0) -> dict[str, Any]:
    """The whole picture, one dict (what `mutt status --json` prints). ``worker_timeout`` None:
    the workers are not asked (``"workers": None``, and no problem is said about them)."""
    report: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "queues": guarded(queue_depths, celery_app, queues),
        "workers": None if worker_timeout is None else guarded(workers, celery_app, worker_timeout),
        "ingest": guarded(ingest, redis_client),
        "listeners": guarded(listeners, redis_client),
        "alerts": guarded(_in_session, alerts),
        "dead_letters": guarded(_in_session, dead_letters),
        "breaker": guarded(breaker, redis_client),
        "restarts": guarded(supervisor.read_record, config.get().home),  # {} unless `mutt up` runs here
        "forwarding": guarded(_in_session, lambda session: forwarding(
            session, dynconfig.runtime(redis_client).get("forwarding_stall_seconds"))),
    }
    report["problems"] = problems(report)
    return report
