"""Health and metrics endpoints (no authentication: load balancers and Prometheus use them)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import text

from celeryconfig import ALERTS_QUEUE, MOOG_QUEUE, QUEUES, REMEDIATION_QUEUE
from mutt_app import __version__, config, dynconfig, services
from mutt_app.core import metrics
from mutt_app.errors import brief
from mutt_app.forwarding.breaker import CircuitBreaker
from mutt_app.operations import jobs, status
from mutt_app.storage import redis_client
from mutt_app.storage.db import engine, session_scope

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


_logged: dict[str, str] = {}  # check -> the reason of its failure last logged with the traceback


def failed(check: str, error: Exception) -> str:
    """Why ``check`` failed, in one line fit for an unauthenticated answer (no secret, no
    traceback). The log gets the traceback once per failure (not at every poll while it lasts)."""
    reason = brief(error)
    if _logged.get(check) != reason:
        _logged[check] = reason
        log.warning("health: %s failed: %s", check, reason, exc_info=error)
    return reason


def passed(check: str) -> None:
    if _logged.pop(check, None) is not None:
        log.info("health: %s passes again", check)


def _ping_database() -> None:
    with engine().connect() as connection:
        connection.execute(text("SELECT 1"))


def check_dependencies() -> dict[str, str]:
    """'ok' or what went wrong, for Redis and the database."""
    results = {}
    # the probe's short timeouts: a hung Redis is reported, not waited for
    for name, check in (("redis", lambda: redis_client.probe().ping()), ("database", _ping_database)):
        try:
            check()
            results[name] = "ok"
            passed(name)
        except Exception as error:  # noqa: BLE001 - any failure is the answer
            results[name] = f"unreachable: {failed(name, error)}"
    return results


@bp.get("/health")
def health():
    checks = check_dependencies()
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "healthy" if healthy else "unhealthy", "service": "mutt-web", "version": __version__, **checks}
    return jsonify(body), 200 if healthy else 503


# --- component health: is each part of the pipeline running? ---------------------------------

CONSUMERS_TTL = 5.0       # seconds a broadcast answer is fresh (health checks come often)
CONSUMERS_STALE = 30.0    # seconds an older answer is still given while a new one is asked for
INSPECT_TIMEOUT = 1.0     # seconds to wait for workers to answer the broadcast
_refreshing = threading.Lock()     # held by the one thread asking the workers
_answered = threading.Condition()  # notified when an answer arrives
_consumers: tuple[float, dict[str, list[str]] | str] = (-CONSUMERS_STALE, {})


def _ask_workers() -> None:
    """Broadcast to the workers (waits INSPECT_TIMEOUT for their answers) and cache what they said."""
    global _consumers
    from mutt_app.celery_app import app

    value: dict[str, list[str]] | str
    try:
        consumers: dict[str, list[str]] = {}
        for worker, queues in status.workers(app, timeout=INSPECT_TIMEOUT).items():
            for queue in queues:
                consumers.setdefault(queue, []).append(worker)
        value = consumers
        passed("asking the workers")
    except Exception as error:  # noqa: BLE001 - the broker is unreachable, say so
        value = f"cannot ask the workers: {failed('asking the workers', error)}"
    finally:
        with _answered:
            _consumers = (time.monotonic(), value)
            _answered.notify_all()
        _refreshing.release()


def queue_consumers() -> dict[str, list[str]] | str:
    """Queue name -> workers consuming it, or why asking failed.

    The broadcast takes INSPECT_TIMEOUT and /health/* is unauthenticated, so no request waits
    for it while there is an answer at most CONSUMERS_STALE old: an answer older than
    CONSUMERS_TTL is given as it is, and one thread of its own asks again. Only without such
    an answer (the first check, or after a quiet spell) does a request wait, at most
    INSPECT_TIMEOUT + 1 s, and never more than one broadcast runs at a time.
    """
    at, value = _consumers
    age = time.monotonic() - at
    if age < CONSUMERS_TTL:
        return value
    if _refreshing.acquire(blocking=False):
        threading.Thread(target=_ask_workers, name="mutt-health-workers", daemon=True).start()
    if age < CONSUMERS_STALE:
        return value
    with _answered:
        _answered.wait_for(lambda: _consumers[0] > at, timeout=INSPECT_TIMEOUT + 1)
        fresh_at, value = _consumers
    if fresh_at == at:
        return f"cannot ask the workers: no answer within {INSPECT_TIMEOUT + 1:g} s"
    return value


def breaker_state() -> str:
    return CircuitBreaker(redis_client.get()).state()


FORWARDING_TTL = 5.0  # seconds the forwarding check's answer is reused (it reads the database)


def forwarding_state() -> dict:
    """:func:`mutt_app.operations.status.forwarding`, asked at most once per FORWARDING_TTL per process."""

    def ask() -> dict:
        with session_scope() as session:
            return status.forwarding(session, dynconfig.get("forwarding_stall_seconds"))

    return services.current().every("health forwarding", FORWARDING_TTL, ask)


def _consumed(queue: str, reasons: list[str]) -> list[str]:
    consumers = queue_consumers()
    if isinstance(consumers, str):
        reasons.append(consumers)
        return []
    workers = sorted(consumers.get(queue, []))
    if not workers:
        reasons.append(f"no worker consumes the {queue} queue")
    return workers


def _ran_recently(job: str, every: float, reasons: list[str], what: str) -> float | None:
    last = jobs.last_run(redis_client.get(), job)
    if last is None:
        reasons.append(f"{what} has not run yet")
        return None
    age = time.time() - last
    if age > 3 * every:
        reasons.append(f"{what} last ran {age:.0f} s ago (expected every {every:g} s)")
    return round(age, 1)


def _answer(service: str, reasons: list[str], **details: Any) -> tuple[Response, int]:
    body: dict[str, Any] = {"status": "unhealthy" if reasons else "healthy", "service": service, **details}
    if reasons:
        body["reasons"] = reasons
    return jsonify(body), 503 if reasons else 200


def _guarded(view: Callable[[], tuple[Response, int]]) -> Callable[[], tuple[Response, int]]:
    """A component check that cannot reach Redis answers 503, never 500."""

    @wraps(view)
    def wrapper() -> tuple[Response, int]:
        try:
            answer = view()
        except Exception as error:  # noqa: BLE001 - any failure is the answer
            return _answer(view.__name__, [f"cannot check: {failed(view.__name__, error)}"])
        passed(view.__name__)
        return answer

    return wrapper


@bp.get("/health/forwarder")
@_guarded
def forwarder() -> tuple[Response, int]:
    reasons: list[str] = []
    workers = _consumed(MOOG_QUEUE, reasons)
    state = breaker_state()
    if state != "closed":
        reasons.append(f"the circuit breaker is {state}: Moogsoft is failing")
    forwarding = forwarding_state()
    reasons += status.forwarding_problems(forwarding)
    return _answer("forwarder", reasons, queue=MOOG_QUEUE, workers=workers, circuit_breaker=state,
                   forwarding=forwarding)


@bp.get("/health/alerter")
@_guarded
def alerter() -> tuple[Response, int]:
    reasons: list[str] = []
    workers = _consumed(ALERTS_QUEUE, reasons)
    return _answer("alerter", reasons, queue=ALERTS_QUEUE, workers=workers)


@bp.get("/health/remediation")
@_guarded
def remediation() -> tuple[Response, int]:
    reasons: list[str] = []
    workers = _consumed(REMEDIATION_QUEUE, reasons)
    every = dynconfig.get("remediation_interval")
    age = _ran_recently(jobs.REMEDIATION, every, reasons, "remediation")
    return _answer("remediation", reasons, queue=REMEDIATION_QUEUE, workers=workers, last_run_seconds_ago=age)


@bp.get("/health/beat")
@_guarded
def beat() -> tuple[Response, int]:
    reasons: list[str] = []
    every = config.number("JANITOR_INTERVAL", float)
    age = _ran_recently(jobs.JANITOR, every, reasons, "the janitor (sent by beat)")
    return _answer("beat", reasons, janitor_interval=every, janitor_last_run_seconds_ago=age)


# --- Prometheus -----------------------------------------------------------------------------

def _sample_queues() -> None:
    from mutt_app.celery_app import app as celery_app

    for queue, depth in status.queue_depths(celery_app, QUEUES)["waiting"].items():
        if depth is not None:
            metrics.QUEUE_DEPTH.labels(queue=queue).set(depth)


def _sample_dead_letters() -> None:
    with session_scope() as session:
        for state, count in status.dead_letters(session).items():
            metrics.DEAD_LETTERS.labels(state=state).set(count)


def _sample_listeners(client) -> None:
    for listener, counts in status.listeners(client).items():
        for outcome, count in counts.items():
            metrics.LISTENER_MESSAGES.labels(listener=listener, outcome=outcome).set(count)


def sample_gauges() -> None:
    """Set the gauges that describe state rather than events, just before a scrape. A part that
    cannot be read keeps its last value (and is logged); the others are still sampled."""
    client = redis_client.probe()
    samplers = {
        "ingest backlog": lambda: metrics.INGEST_BACKLOG.set(status.ingest(client)["backlog"]),
        "listeners": lambda: _sample_listeners(client),
        "queue depths": _sample_queues,
        "dead letters": _sample_dead_letters,
        "circuit breaker": lambda: CircuitBreaker(client).sample_metrics(),
    }
    for name, sample in samplers.items():
        try:
            sample()
        except Exception as error:  # noqa: BLE001 - one unreadable part must not fail the scrape
            log.warning("metrics: could not sample %s (%s)", name, brief(error))


SAMPLE_SECONDS = 1.5  # a scrape waits this long for the gauges, so that /metrics answers within 2 s
_sampling = threading.Lock()


def sample_gauges_in_time(seconds: float = SAMPLE_SECONDS) -> bool:
    """``sample_gauges`` in a thread, waited for at most ``seconds``; False if it did not finish.

    A dependency that hangs (the broker's connection has timeouts of its own, longer than a
    scrape should take) delays no scrape: the gauges keep their last values, and while one sample
    is still stuck no other starts.
    """
    if not _sampling.acquire(blocking=False):
        return False
    finished = threading.Event()

    def sample() -> None:
        try:
            sample_gauges()
        finally:
            _sampling.release()
            finished.set()

    threading.Thread(target=sample, name="mutt-metrics-sample", daemon=True).start()
    return finished.wait(seconds)


@bp.get("/metrics")
def prometheus_metrics():
    sample_gauges_in_time()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
