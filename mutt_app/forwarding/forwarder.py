"""Delivering alerts to Moogsoft: claim, gate (circuit breaker, shared rate limit), send, record.

Domain only, no Celery: ``Forwarder.forward`` does the work and returns a :class:`Report`
saying what became of each alert and what must be tried again later (``deferred``, with a
countdown, never spending the alert's retries; ``retries``, alerts that failed and must go
through the retry path). tasks/forwarder.py turns the report into messages.

The way of one alert: its id comes from the alerter; ``outbox.claim`` moves it from ``pending``
to ``sending`` (an alert that is not pending is skipped: finished, or another task has it);
``_gate`` asks the circuit breaker (``breaker``) and takes a slot of the shared rate limit
(``send_slots``) for it, or gives it back, pending, its claim not counted (``_release``); it goes
out in a wave of requests; its outcome is recorded: ``outbox.mark_delivered``, a retry
(``_record``, with ``retry.RetryPolicy``) or a dead letter. While no endpoint is set, alerts wait
unclaimed (``_wait_for_endpoint``).

Sends go in waves of requests, sized by the process's ``send_window.SendWindow``: one request
after a failure (if Moogsoft is failing, one request finds out), twice as many after each wave
that went through, up to the ``moog_concurrency`` setting. A request carries one alert, or up to
``moog_batch_size`` as one ``{"events": [...]}`` body. Each wave takes its rate slots (one per
alert) and asks the breaker in one round trip to Redis, which also ends the slots of the wave
before and reports its results to the breaker (one per request). A request of several alerts that
Moogsoft refuses outright goes again one alert per request (``Report.alone``), so only the alert
at fault becomes a dead letter.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from sqlalchemy import Row

from mutt_app import dynconfig
from mutt_app.core import lua, metrics
from mutt_app.dead_letters import dlq
from mutt_app.forwarding import moog, outbox
from mutt_app.forwarding.breaker import CircuitBreaker
from mutt_app.forwarding.retry import RetryPolicy
from mutt_app.forwarding.send_slots import SendSlots
from mutt_app.forwarding.send_window import SendWindow
from mutt_app.storage import db

log = logging.getLogger("mutt.forwarder")

# Why alerts were put off (Deferral.reason)
NO_ENDPOINT = "no_endpoint"      # MOOG_WEBHOOK_URL is empty: alerts wait until it is set
BREAKER_OPEN = "breaker_open"    # the circuit breaker is open, or a probe is out
RATE_LIMITED = "rate_limited"    # the shared Moogsoft rate limit is used up
MOOG_FAILING = "moog_failing"    # an earlier alert of the batch just failed: the rest wait as long
TIME_BUDGET = "time_budget"      # the task's time is nearly up: the rest go to a new task

NO_ENDPOINT_WAIT = 60.0


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


@dataclass(frozen=True)
class _Wave:
    """A wave that went out: its rate slots, and per request whether Moogsoft answered (none when
    the sends failed before any answer)."""

    slots: list[str] = field(default_factory=list)
    answered: list[bool] = field(default_factory=list)


class Forwarder:
    """Sends alerts through one client, gated by the shared breaker and rate limit."""

    def __init__(self, redis_client: Redis, client: moog.MoogClient | None, *, breaker: CircuitBreaker | None = None,
                 window: SendWindow | None = None, max_countdown: float = 1800.0) -> None:
        self._client = client
        self._redis = redis_client
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
        if self._client is None:
            self._wait_for_endpoint(wanted, report)
            return report
        with db.session_scope() as session:
            alerts = outbox.claim(session, wanted, lease_seconds)
        claimed = {alert.id for alert in alerts}
        report.skipped = [alert_id for alert_id in wanted if alert_id not in claimed]
        self._send(alerts, policy, retries, report, deadline=started + budget_seconds - 2 * self._moog.timeout)
        return report

    def _send(self, alerts: list[Row[Any]], policy: RetryPolicy, retries: int, report: Report, deadline: float) -> None:
        """Send claimed alerts, wave after wave, while the breaker and the rate limit let them go;
        those they hold back go back to pending, their claim not counted."""
        start = sent = 0  # alerts[:start] are recorded, alerts[:sent] went out
        delivered: list[tuple[str, int | None]] = []  # recorded together, one commit per task
        finished = _Wave()  # the last wave, told to the rate limit and the breaker with the next call to Redis
        try:
            while start < len(alerts):
                if start and time.monotonic() > deadline:
                    self._release(alerts[start:], 0.0, TIME_BUDGET, report)
                    return
                slots, wait, reason = self._gate(len(alerts) - start, finished)
                finished = _Wave()
                if reason:
                    self._release(alerts[start:], wait, reason, report)
                    return
                wave = alerts[start:start + len(slots)]
                batch = self._settings.get("moog_batch_size")
                requests = [wave[n:n + batch] for n in range(0, len(wave), batch)]
                sent = start + len(wave)
                finished = _Wave(slots)  # should the sends fail, their slots still end
                outcomes = self._moog.send_all([moog.request_body(request) for request in requests])
                finished = _Wave(slots, [outcome.moog_answered for outcome in outcomes])
                for request, outcome in zip(requests, outcomes, strict=True):
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
            # Killed by the soft time limit, or the database or Redis went away: whatever was not
            # recorded goes back to pending; the alerts that went out keep their claim count.
            outbox.set_pending(alerts[start:sent], 0.0, self._grace(), uncount=False)
            outbox.set_pending(alerts[sent:], 0.0, self._grace(), uncount=True)
            raise
        finally:
            # Should this write fail, the delivered alerts stay `sending` until their lease ends and
            # the janitor sends them again: a duplicate Moogsoft folds by external_id, never a loss.
            try:
                outbox.mark_delivered(delivered)
                if delivered:
                    metrics.MOOG_ALERTS.labels("success").inc(len(delivered))
            finally:
                self._tell(finished)

    def _send_alone(self, alerts: list[Row[Any]], outcome: moog.Outcome, report: Report) -> None:
        """Moogsoft refused a request of several alerts: which one it could not take, it did not
        say. Each goes again in a request of its own (the retry path, no retry spent), so only the
        one at fault becomes a dead letter."""
        ids = [alert.id for alert in alerts]
        outbox.set_pending(ids, 0.0, self._grace(), uncount=True)
        metrics.MOOG_ALERTS.labels("alone").inc(len(ids))
        log.warning("Moogsoft refused a request of %d alerts (%s): each goes again alone", len(ids), outcome.error,
                    extra={"status": outcome.status})
        report.alone += ids

    def _record(self, alert: Row[Any], outcome: moog.Outcome, policy: RetryPolicy, retries: int, report: Report) -> None:
        """Store the outcome of one failed send: a dead letter, or the alert goes to the retry path."""
        if outcome.kind == moog.PERMANENT or retries >= policy.max_retries:
            reason = dlq.MOOG_REJECTED if outcome.kind == moog.PERMANENT else dlq.RETRIES_EXHAUSTED
            with db.session_scope() as session:
                outbox.finish(session, alert.id, "dead", outcome)
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
            outbox.finish(session, alert.id, "pending", outcome, lease_until=self._lease(countdown))
        metrics.MOOG_ALERTS.labels("retry").inc()
        log.info("alert %s will be retried in %.1f s: %s", alert.id, countdown, outcome.error,
                 extra={"alert_id": alert.id, "status": outcome.status, "retries": retries})
        report.retries.append(Retry(alert.id, countdown, outcome.retry_after, outcome.error))

    def _gate(self, waiting: int, finished: _Wave) -> tuple[list[str], float, str]:
        """(rate slots for the next wave, 0, "") when sends may go now; else ([], seconds to wait, why).

        The wave is as many alerts as the send window's requests carry, or fewer when fewer alerts
        are ``waiting``, fewer slots are free, or this caller is the half-open breaker's probe (one).
        The ``finished`` wave is told to the rate limit and the breaker first, in the same round
        trip to Redis (one per wave: each costs more CPU than the scripts' work).
        """
        limit, period = self._rate()
        requests = self._window.size(self._concurrency())
        wanted = min(requests * self._settings.get("moog_batch_size"), waiting)
        # A slot in flight counts at most as long as a send can take (connect + answer), and then some.
        take = self._slots.take_call(limit, period, lease=2 * self._moog.timeout + 10, count=wanted)
        answers = lua.run_together(self._redis, [*self._telling(finished), self.breaker.acquire_call(), take])
        if finished.answered:
            self.breaker.recorded(answers[-3])
        permit, (slots, wait) = self.breaker.permit(answers[-2]), self._slots.granted(answers[-1])
        if not permit.allowed or permit.probe:
            keep = 1 if permit.allowed else 0  # a probe sends one alert
            self._slots.cancel(slots[keep:])
            slots = slots[:keep]
            if not permit.allowed:
                return [], permit.wait_seconds, BREAKER_OPEN
        if slots:
            return slots, 0.0, ""
        metrics.MOOG_RATE_LIMIT_HITS.inc()
        return [], max(wait, 0.001), RATE_LIMITED

    def _telling(self, finished: _Wave) -> list[lua.Call]:
        """The calls that end a wave's slots and report its answers to the breaker."""
        return ([self._slots.done_call(finished.slots)] if finished.slots else []) + (
            [self.breaker.record_call(finished.answered)] if finished.answered else [])

    def _tell(self, finished: _Wave) -> None:
        calls = self._telling(finished)
        if calls:
            answers = lua.run_together(self._redis, calls)
            if finished.answered:
                self.breaker.recorded(answers[-1])

    @property
    def _moog(self) -> moog.MoogClient:
        if self._client is None:  # forward() puts every alert off before anything is sent
            raise RuntimeError("no Moogsoft endpoint (MOOG_WEBHOOK_URL) to send to")
        return self._client

    def _concurrency(self) -> int:
        return int(self._settings.get("moog_concurrency"))

    def _rate(self) -> tuple[int, float]:
        return self._settings.get("moog_rate_limit"), self._settings.get("moog_rate_period")

    def _grace(self) -> float:
        return float(self._settings.get("janitor_stuck_after_seconds"))

    def _lease(self, countdown: float) -> datetime:
        """When a task should have picked an alert up, if it is to wait ``countdown`` seconds."""
        return outbox.utcnow() + timedelta(seconds=countdown + self._grace())

    def _plan(self, alert_ids: list[str], wait: float, reason: str) -> list[Deferral]:
        """Rate-limited alerts are spread over the coming windows, one window's worth each."""
        if reason != RATE_LIMITED:
            return [Deferral(tuple(alert_ids), min(wait, self._max_countdown), reason)]
        limit, period = self._rate()
        return [
            Deferral(tuple(alert_ids[start:start + limit]), min(wait + n * period, self._max_countdown), reason)
            for n, start in enumerate(range(0, len(alert_ids), limit))
        ]

    def _wait_for_endpoint(self, alert_ids: list[str], report: Report) -> None:
        """No endpoint is set: the pending alerts among ``alert_ids`` wait, unclaimed (their lease
        moves, nothing else); the others are skipped."""
        with db.session_scope() as session:
            waiting = outbox.postpone(session, alert_ids, self._lease(NO_ENDPOINT_WAIT))
        found = set(waiting)
        report.skipped = [alert_id for alert_id in alert_ids if alert_id not in found]
        if waiting:
            log.warning("MOOG_WEBHOOK_URL is not set: %d alert(s) wait", len(waiting))
            report.deferred.append(Deferral(tuple(waiting), NO_ENDPOINT_WAIT, NO_ENDPOINT))

    def _release(self, alerts: list[Row[Any]], wait: float, reason: str, report: Report) -> None:
        """Give back claimed alerts that were not sent: pending again, the claim not counted."""
        if not alerts:
            return
        for deferral in self._plan([alert.id for alert in alerts], wait, reason):
            outbox.set_pending(deferral.alert_ids, deferral.countdown, self._grace(), uncount=True)
            report.deferred.append(deferral)
