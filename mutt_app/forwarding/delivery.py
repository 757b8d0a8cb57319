"""Delivering alerts to Moogsoft: claim, gate (circuit breaker, shared rate limit), send, record.

Domain only, no Celery: ``Forwarder.forward`` does the work and returns a :class:`Report`
saying what became of each alert and what must be tried again later (``deferred``, with a
countdown, never spending the alert's retries; ``retries``, alerts that failed and must go
through the retry path). tasks/forwarder.py turns the report into messages.

Sends go in waves of requests, sized by the process's :class:`SendWindow`: one request after a
failure (if Moogsoft is failing, one request finds out), twice as many after each wave that went
through, up to the ``moog_concurrency`` setting. A request carries one alert, or up to
``moog_batch_size`` as one ``{"events": [...]}`` body. Each wave takes its rate slots (one per
alert) and asks the breaker in one Redis call each, and reports to the breaker in one (one result
per request). A request of several alerts that Moogsoft refuses outright goes again one alert per
request (``Report.alone``), so only the alert at fault becomes a dead letter.

Alert states (the contract with the alerter and the janitor): an alert is claimed with one
``UPDATE ... WHERE state = 'pending'`` (so a duplicate task finds nothing to do), sent, then
marked ``delivered``, put back to ``pending`` for a retry, or made ``dead`` with a dead letter.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from mutt_app.core import dynconfig, logs, metrics
from mutt_app.core.limits import LUA_NOW_MS, REDIS_CLOCK, RedisClock
from mutt_app.dead_letters import dlq
from mutt_app.forwarding import moog
from mutt_app.forwarding.breaker import CircuitBreaker
from mutt_app.storage import db, redis_keys
from mutt_app.storage.models import Alert

log = logging.getLogger("mutt.forwarder")

# The table, not the mapped class: claimed alerts are plain rows (attributes named as on Alert),
# which spares the ORM's per-object work on the forwarder's hot path.
ALERTS = Alert.__table__

# Why alerts were put off (Deferral.reason)
NO_ENDPOINT = "no_endpoint"      # MOOG_WEBHOOK_URL is empty: alerts wait until it is set
BREAKER_OPEN = "breaker_open"    # the circuit breaker is open, or a probe is out
RATE_LIMITED = "rate_limited"    # the shared Moogsoft rate limit is used up
MOOG_FAILING = "moog_failing"    # an earlier alert of the batch just failed: the rest wait as long
TIME_BUDGET = "time_budget"      # the task's time is nearly up: the rest go to a new task

NO_ENDPOINT_WAIT = 60.0

_SEND_SLOTS = LUA_NOW_MS + """
local key, seq_key, op = KEYS[1], KEYS[2], ARGV[1]
local now = now_ms()
if op == 'done' then
  for i = 2, #ARGV do redis.call('ZADD', key, 'XX', now, ARGV[i]) end
  return {}
elseif op == 'cancel' then
  for i = 2, #ARGV do redis.call('ZREM', key, ARGV[i]) end
  return {}
end
local limit, period_ms, lease_ms, wanted = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period_ms)
local free = limit - redis.call('ZCARD', key)
if free <= 0 then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, math.min(math.max(tonumber(oldest[2]) + period_ms - now, 1), period_ms)}
end
local granted = {1}
for _ = 1, math.min(free, wanted) do
  local slot = tostring(redis.call('INCR', seq_key))
  redis.call('ZADD', key, now + lease_ms, slot)
  table.insert(granted, slot)
end
redis.call('PEXPIRE', key, period_ms + lease_ms + 1000)
return granted
"""


class SendSlots:
    """The shared Moogsoft rate limit, kept as Moogsoft sees it: by when requests arrive.

    A sliding log in Redis (one Lua step per call, Redis's clock). ``take`` adds slots that
    count while their requests are in flight (until their lease, should the worker die); ``done``
    re-dates them to when the answers came, which is no earlier than Moogsoft received the
    requests. So any ``period`` in which Moogsoft receives ``limit + 1`` requests would have had
    all of them in the log when the last was granted: impossible. A limit counted at grant time
    only would be broken by a request that is slow to leave (a busy machine) followed by one that
    is quick.
    """

    def __init__(self, redis_client, key: str = redis_keys.MOOG_RATE_LIMIT, *, clock: RedisClock = REDIS_CLOCK) -> None:
        self._keys = [key, key + ":seq"]
        self._script = clock.register(redis_client, _SEND_SLOTS)

    def take(self, limit: int, period: float, lease: float, count: int = 1) -> tuple[list[str], float]:
        """(up to ``count`` slots, 0) when requests may go now, else ([], seconds until one might)."""
        answer = self._script(keys=self._keys, args=["take", limit, int(period * 1000), int(lease * 1000), count])
        if int(answer[0]):
            return [slot.decode() if isinstance(slot, bytes) else str(slot) for slot in answer[1:]], 0.0
        return [], int(answer[1]) / 1000.0

    def done(self, slots: list[str]) -> None:
        if slots:
            self._script(keys=self._keys, args=["done", *slots])

    def cancel(self, slots: list[str]) -> None:
        """The slots were not used (nothing left to send)."""
        if slots:
            self._script(keys=self._keys, args=["cancel", *slots])


class SendWindow:
    """How many sends one process keeps in flight: a slow start, as TCP's.

    One after a failure (and in a new process), twice as many after each wave that went through,
    at most the ``limit`` given (moog_concurrency). Kept across tasks, so while Moogsoft is
    healthy a batch goes out in full waves from its first alert.
    """

    def __init__(self) -> None:
        self._size = 1

    def size(self, limit: int) -> int:
        return max(1, min(self._size, limit))

    def went_through(self, limit: int) -> None:
        self._size = max(1, min(2 * self._size, limit))

    def failed(self) -> None:
        self._size = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """Celery's exponential backoff with full jitter, for the alert handed from a batch to the retry path."""

    max_retries: int
    backoff: float
    backoff_max: float
    jitter: bool = True

    def bound(self, retries: int) -> float:
        """The longest wait before retry number ``retries + 1`` (what Celery's autoretry uses)."""
        return float(min(self.backoff_max, max(1, int(self.backoff)) * 2 ** retries))

    def countdown(self, retries: int) -> float:
        bound = self.bound(retries)
        return float(random.randint(0, int(bound))) if self.jitter else bound


@dataclass(frozen=True)
class Deferral:
    alert_ids: tuple[str, ...]
    countdown: float
    reason: str


@dataclass(frozen=True)
class Retry:
    alert_id: str
    countdown: float              # wait before the retry (the lease allows for it)
    retry_after: float | None     # Moogsoft asked for this wait: it overrides the backoff
    error: str


@dataclass
class Report:
    delivered: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    deferred: list[Deferral] = field(default_factory=list)
    retries: list[Retry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not pending: finished, or another task has it
    alone: list[str] = field(default_factory=list)    # refused in a request of several: send one per request


class Forwarder:
    """Sends alerts through one client, gated by the shared breaker and rate limit."""

    def __init__(self, redis_client, client: moog.MoogClient | None, *, breaker: CircuitBreaker | None = None,
                 window: SendWindow | None = None, max_countdown: float = 1800.0) -> None:
        self._client = client
        self._window = window or SendWindow()
        self._settings = dynconfig.runtime(redis_client)
        self._slots = SendSlots(redis_client)
        self.breaker = breaker or CircuitBreaker(redis_client)
        self._max_countdown = max_countdown

    def forward(self, alert_ids: list[str], *, policy: RetryPolicy, retries: int = 0, lease_seconds: float,
                budget_seconds: float) -> Report:
        """Send the pending alerts among ``alert_ids`` as far as the breaker and rate limit allow.

        ``retries``: retries already spent by these alerts (the retry path sends one alert).
        ``lease_seconds``: how long a claim holds before the janitor may assume the worker died.
        ``budget_seconds``: no send starts after this much time (the task's soft time limit).
        """
        started = time.monotonic()
        report = Report()
        wanted = list(dict.fromkeys(alert_ids))
        with db.session_scope() as session:
            pending = _pending(session, wanted)
        report.skipped = [alert_id for alert_id in wanted if alert_id not in set(pending)]
        if not pending:
            return report
        if self._client is None:
            log.warning("MOOG_WEBHOOK_URL is not set: %d alert(s) wait", len(pending))
            self._postpone(pending, NO_ENDPOINT_WAIT, NO_ENDPOINT, report)
            return report
        slots, wait, reason = self._gate(len(pending))
        if reason:  # decided before claiming, so a put-off alert's claim count does not grow
            self._postpone(pending, wait, reason, report)
            return report
        alerts: list[Row] = []
        try:
            with db.session_scope() as session:
                alerts = _claim(session, pending, lease_seconds)
        finally:
            self._slots.cancel(slots[len(alerts):])  # fewer claimed than hoped: another task has them
        slots = slots[:len(alerts)]
        claimed = {alert.id for alert in alerts}
        report.skipped += [alert_id for alert_id in pending if alert_id not in claimed]
        self._send(alerts, slots, policy, retries, report,
                   deadline=started + budget_seconds - 2 * self._client.timeout)
        return report

    def _send(self, alerts: list[Row], slots: list[str], policy: RetryPolicy, retries: int, report: Report,
              deadline: float) -> None:
        start = 0
        delivered: list[tuple[str, int | None]] = []  # recorded together, one commit per task
        try:
            while start < len(alerts):
                if start:
                    if time.monotonic() > deadline:
                        self._release(alerts[start:], 0.0, TIME_BUDGET, report)
                        return
                    slots, wait, reason = self._gate(len(alerts) - start)
                    if reason:
                        self._release(alerts[start:], wait, reason, report)
                        return
                wave = alerts[start:start + len(slots)]
                batch = self._settings.get("moog_batch_size")
                requests = [wave[n:n + batch] for n in range(0, len(wave), batch)]
                try:
                    outcomes = self._client.send_all([partial(self._send_request, request) for request in requests])
                finally:
                    self._slots.done(slots)
                self.breaker.record([outcome.moog_answered for outcome in outcomes])
                for request, outcome in zip(requests, outcomes):
                    if outcome.kind == moog.DELIVERED:
                        delivered += [(alert.id, outcome.status) for alert in request]
                        report.delivered += [alert.id for alert in request]
                    elif outcome.kind == moog.PERMANENT and len(request) > 1:
                        self._send_alone(request, outcome, report)
                    else:
                        for alert in request:
                            self._record(alert, outcome, policy, retries, report)
                start += len(wave)
                if report.retries:
                    self._window.failed()
                    self._release(alerts[start:], report.retries[0].countdown, MOOG_FAILING, report)
                    return
                self._window.went_through(self._concurrency())
        except BaseException:
            # Killed by the soft time limit, or the database went away: whatever was not
            # recorded goes back to pending (the in-flight alerts keep their claim count).
            _set_pending(alerts[start:], 0.0, self._grace(), uncount=False)
            raise
        finally:
            # Should this write fail, the delivered alerts stay `sending` until their lease ends and
            # the janitor sends them again: a duplicate Moogsoft folds by external_id, never a loss.
            _finish_delivered(delivered)

    def _send_request(self, alerts: list[Row]) -> moog.Outcome:
        with logs.correlated(alerts[0].correlation_id):
            return self._client.send(moog.request_body(alerts))

    def _send_alone(self, alerts: list[Row], outcome: moog.Outcome, report: Report) -> None:
        """Moogsoft refused a request of several alerts: which one it could not take, it did not
        say. Each goes again in a request of its own (the retry path, no retry spent), so only the
        one at fault becomes a dead letter."""
        ids = [alert.id for alert in alerts]
        _set_pending(ids, 0.0, self._grace(), uncount=True)
        metrics.MOOG_ALERTS.labels("alone").inc(len(ids))
        log.warning("Moogsoft refused a request of %d alerts (%s): each goes again alone", len(ids), outcome.error,
                    extra={"status": outcome.status})
        report.alone += ids

    def _record(self, alert: Row, outcome: moog.Outcome, policy: RetryPolicy, retries: int, report: Report) -> None:
        """Store the outcome of one failed send: a dead letter, or the alert goes to the retry path."""
        if outcome.kind == moog.PERMANENT or retries >= policy.max_retries:
            reason = dlq.MOOG_REJECTED if outcome.kind == moog.PERMANENT else dlq.RETRIES_EXHAUSTED
            with db.session_scope() as session:
                _finish(session, alert.id, "dead", outcome)
                dlq.record(session, dlq.ALERT, alert.id, reason, error=outcome.error, payload=moog.payload(alert),
                           attempts=alert.attempts, last_status=outcome.status)
            metrics.MOOG_ALERTS.labels("dlq").inc()
            log.warning("alert %s is a dead letter (%s): %s", alert.id, reason, outcome.error,
                        extra={"alert_id": alert.id, "reason": reason, "status": outcome.status})
            report.dead.append(alert.id)
            return
        if outcome.retry_after is not None:
            countdown = outcome.retry_after
        elif retries == 0:
            countdown = policy.countdown(0)  # from a batch: the task hands it on with this countdown
        else:
            countdown = policy.bound(retries)  # Celery's autoretry picks the jittered wait below this
        countdown = min(countdown, self._max_countdown)
        with db.session_scope() as session:
            _finish(session, alert.id, "pending", outcome, lease_until=self._lease(countdown))
        metrics.MOOG_ALERTS.labels("retry").inc()
        log.info("alert %s will be retried in %.1f s: %s", alert.id, countdown, outcome.error,
                 extra={"alert_id": alert.id, "status": outcome.status, "retries": retries})
        report.retries.append(Retry(alert.id, countdown, outcome.retry_after, outcome.error))

    def _gate(self, waiting: int) -> tuple[list[str], float, str]:
        """(rate slots for the next wave, 0, "") when sends may go now; else ([], seconds to wait, why).

        The wave is as many alerts as the send window's requests carry, or fewer when fewer alerts
        are ``waiting``, fewer slots are free, or this caller is the half-open breaker's probe (one).
        """
        permit = self.breaker.acquire()
        if not permit.allowed:
            return [], permit.wait_seconds, BREAKER_OPEN
        limit, period = self._rate()
        requests = self._window.size(self._concurrency())
        wave = 1 if permit.probe else min(requests * self._settings.get("moog_batch_size"), waiting)
        # A slot in flight counts at most as long as a send can take (connect + answer), and then some.
        slots, wait = self._slots.take(limit, period, lease=2 * self._client.timeout + 10, count=wave)
        if slots:
            return slots, 0.0, ""
        metrics.MOOG_RATE_LIMIT_HITS.inc()
        return [], max(wait, 0.001), RATE_LIMITED

    def _concurrency(self) -> int:
        return self._settings.get("moog_concurrency")

    def _rate(self) -> tuple[int, float]:
        return self._settings.get("moog_rate_limit"), self._settings.get("moog_rate_period")

    def _grace(self) -> float:
        return float(self._settings.get("janitor_stuck_after_seconds"))

    def _lease(self, countdown: float) -> datetime:
        """When a task should have picked an alert up, if it is to wait ``countdown`` seconds."""
        return utcnow() + timedelta(seconds=countdown + self._grace())

    def _plan(self, alert_ids: list[str], wait: float, reason: str) -> list[Deferral]:
        """Rate-limited alerts are spread over the coming windows, one window's worth each."""
        if reason != RATE_LIMITED:
            return [Deferral(tuple(alert_ids), min(wait, self._max_countdown), reason)]
        limit, period = self._rate()
        return [
            Deferral(tuple(alert_ids[start:start + limit]), min(wait + n * period, self._max_countdown), reason)
            for n, start in enumerate(range(0, len(alert_ids), limit))
        ]

    def _postpone(self, alert_ids: list[str], wait: float, reason: str, report: Report) -> None:
        """Put off alerts that were never claimed (their lease moves, nothing else)."""
        for deferral in self._plan(alert_ids, wait, reason):
            with db.session_scope() as session:
                session.execute(
                    update(ALERTS)
                    .where(ALERTS.c.id.in_(deferral.alert_ids), ALERTS.c.state == "pending")
                    .values(lease_until=self._lease(deferral.countdown), updated_at=utcnow())
                )
            report.deferred.append(deferral)

    def _release(self, alerts: list[Row], wait: float, reason: str, report: Report) -> None:
        """Give back claimed alerts that were not sent: pending again, the claim not counted."""
        if not alerts:
            return
        for deferral in self._plan([alert.id for alert in alerts], wait, reason):
            _set_pending(deferral.alert_ids, deferral.countdown, self._grace(), uncount=True)
            report.deferred.append(deferral)


def _pending(session: Session, alert_ids: list[str]) -> list[str]:
    found = set(session.scalars(select(ALERTS.c.id).where(ALERTS.c.id.in_(alert_ids), ALERTS.c.state == "pending")))
    return [alert_id for alert_id in alert_ids if alert_id in found]


def _claim(session: Session, alert_ids: list[str], lease_seconds: float) -> list[Row]:
    """Take the pending alerts among ``alert_ids`` for this worker, in the given order."""
    now = utcnow()
    statement = (
        update(ALERTS)
        .where(ALERTS.c.id.in_(alert_ids), ALERTS.c.state == "pending")
        .values(state="sending", attempts=ALERTS.c.attempts + 1, lease_until=now + timedelta(seconds=lease_seconds),
                updated_at=now)
        .returning(ALERTS)
    )
    claimed = {alert.id: alert for alert in session.execute(statement)}
    return [claimed[alert_id] for alert_id in alert_ids if alert_id in claimed]


def _set_pending(alerts, countdown: float, grace: float, *, uncount: bool) -> None:
    ids = [alert if isinstance(alert, str) else alert.id for alert in alerts]
    if not ids:
        return
    values = {"state": "pending", "lease_until": utcnow() + timedelta(seconds=countdown + grace), "updated_at": utcnow()}
    if uncount:
        values["attempts"] = ALERTS.c.attempts - 1
    with db.session_scope() as session:
        session.execute(update(ALERTS).where(ALERTS.c.id.in_(ids), ALERTS.c.state == "sending").values(**values))


def _finish_delivered(delivered: list[tuple[str, int | None]]) -> None:
    if not delivered:
        return
    by_status: dict[int | None, list[str]] = {}
    for alert_id, status in delivered:
        by_status.setdefault(status, []).append(alert_id)
    now = utcnow()
    with db.session_scope() as session:
        for status, ids in by_status.items():
            session.execute(
                update(ALERTS)
                .where(ALERTS.c.id.in_(ids), ALERTS.c.state.in_(("sending", "pending")))
                .values(state="delivered", last_status=status, last_error="", lease_until=None,
                        delivered_at=now, updated_at=now)
            )
    metrics.MOOG_ALERTS.labels("success").inc(len(delivered))


def _finish(session: Session, alert_id: str, state: str, outcome: moog.Outcome, **values) -> None:
    # Also from pending: a janitor that took the claim for dead must not undo a finished send.
    values.setdefault("lease_until", None)
    session.execute(
        update(ALERTS)
        .where(ALERTS.c.id == alert_id, ALERTS.c.state.in_(("sending", "pending")))
        .values(state=state, last_status=outcome.status, last_error=outcome.error, updated_at=utcnow(), **values)
    )


def reopen(session: Session, alert_ids: list[str]) -> list[str]:
    """Make dead alerts pending again (operator replay); returns those reopened.

    The caller commits, then hands the ids to ``tasks.forwarder.enqueue_alerts``.
    The claim count starts again, so the janitor's crash cap applies afresh.
    """
    if not alert_ids:
        return []
    grace = float(dynconfig.get("janitor_stuck_after_seconds"))
    statement = (
        update(ALERTS)
        .where(ALERTS.c.id.in_(alert_ids), ALERTS.c.state == "dead")
        .values(state="pending", attempts=0, last_error="", lease_until=utcnow() + timedelta(seconds=grace),
                updated_at=utcnow())
        .returning(ALERTS.c.id)
    )
    return list(session.scalars(statement))
