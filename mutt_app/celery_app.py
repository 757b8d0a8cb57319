"""The Celery app: `celery -A mutt_app.celery_app worker|beat|inspect|flower` uses this.

Importing it reads no MUTT setting beyond those celeryconfig takes from the environment, and writes
nothing. A worker or beat checks its settings as it starts (:func:`refuse_to_start` on a
:class:`config.ConfigurationError`), and each pool process builds its own services
(:mod:`mutt_app.services`) before its first task: both here. (tasks/alerter.py adds the loading of
the rules to a pool process's start, as a task's own warm-up.)
"""

import logging
import threading
import time
from types import SimpleNamespace
from typing import Any

import redis
from celery import Celery
from celery.signals import (
    beat_init,
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
)
from kombu.transport import redis as kombu_redis
from redbeat.schedulers import REDBEAT_REDIS_KEY, RedBeatScheduler, RetryingConnection, acquire_distributed_beat_lock

from mutt_app import config, dynconfig, services
from mutt_app.core import exporter, logs
from mutt_app.storage import db, redis_client

log = logging.getLogger(__name__)

def _a_closed_broker_connection_is_a_connection_error() -> None:
    """When Redis goes away (a restart, a Sentinel failover), kombu closes the connection and then
    its channels; a closing channel that still holds unacknowledged messages asks for a new pool,
    finds its transport's client already cleared and raises AttributeError ('NoneType' object has
    no attribute 'hostname'), which Celery takes for an unrecoverable error: the worker exits.
    Raised as a ConnectionError instead, it is one kombu ignores while closing and Celery recovers
    from by reconnecting. The messages stay unacknowledged in Redis; the janitor re-enqueues the
    work whose lease ran out (docs/janitor.md). Both kombu transports (plain and Sentinel) share
    this method."""
    connparams = kombu_redis.Channel._connparams
    if getattr(connparams, "mutt_checked", False):
        return

    def _connparams(self: kombu_redis.Channel, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection was closed while its channel was in use")
        return connparams(self, asynchronous=asynchronous)

    _connparams.mutt_checked = True  # type: ignore[attr-defined]
    kombu_redis.Channel._connparams = _connparams  # type: ignore[method-assign]


_a_closed_broker_connection_is_a_connection_error()

app = Celery("mutt", include=["tasks.alerter", "tasks.forwarder", "tasks.ingest", "tasks.janitor", "tasks.remediation",
                                 "tasks.heartbeats"])
app.config_from_object("celeryconfig")


@setup_logging.connect
def _configure_logging(**_kwargs) -> None:
    logs.configure(runtime_level=dynconfig.log_level)


def check_settings() -> config.Settings:
    """Every setting a MUTT process runs with, checked (celeryconfig's combinations too), and read
    into this process's services: a :class:`config.ConfigurationError` names what is wrong."""
    import celeryconfig

    celeryconfig.check()
    return config.get()


def refuse_to_start(error: config.ConfigurationError) -> None:
    """Stop a worker or beat that cannot run with its settings: the one line, exit status 1."""
    log.critical("cannot start: %s", error)
    raise SystemExit(f"Error: {error}")


BEAT_REDIS_RETRY_INTERVAL = 1  # seconds
REDIS_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ReadOnlyError)


class BeatScheduler(RedBeatScheduler):
    """RedBeat (its lock: one of several beats sends) over this process's Redis client
    (:func:`redis_client.get`: Sentinel, timeouts), retried through a failover
    (``beat_redis_retry_seconds``). Built before ``beat_init``, so the settings are checked here."""

    def __init__(self, app: Celery, *args: Any, **kwargs: Any) -> None:
        try:
            check_settings()
        except config.ConfigurationError as error:
            refuse_to_start(error)
        setattr(app, REDBEAT_REDIS_KEY, RetryingConnection(app.conf.beat_redis_retry_seconds, redis_client.get()))
        super().__init__(app, *args, **kwargs)

    def setup_schedule(self) -> None:
        """RedBeat's start (the schedule written to Redis) through a Redis restart or failover, for
        up to ``beat_redis_retry_seconds``: RedBeat's retrying client does not retry its
        pipelines, and a beat started while the primary changed exited."""
        deadline = time.monotonic() + self.app.conf.beat_redis_retry_seconds
        while True:
            try:
                super().setup_schedule()
                return
            except REDIS_UNAVAILABLE as error:
                if time.monotonic() >= deadline:
                    raise
                log.warning("beat: Redis is unavailable at start (%s); trying again in %d s", error,
                            BEAT_REDIS_RETRY_INTERVAL)
                time.sleep(BEAT_REDIS_RETRY_INTERVAL)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """RedBeat's tick, which renews the lock, through a Redis restart or failover: while Redis
        cannot be reached no beat can send anything, so this one waits and tries again instead of
        exiting. A lock found taken by another beat (LockNotOwnedError) still ends this one."""
        try:
            if self.lock_key and self.lock is None:  # Redis went away while this beat waited for the lock at start
                acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=self))
            return float(super().tick(*args, **kwargs))
        except REDIS_UNAVAILABLE as error:
            log.warning("beat: Redis is unavailable (%s); trying again in %d s", error, BEAT_REDIS_RETRY_INTERVAL)
            return BEAT_REDIS_RETRY_INTERVAL


@worker_init.connect
@beat_init.connect
def _check_settings_at_start(**_kwargs) -> None:
    try:
        check_settings()
    except config.ConfigurationError as error:
        refuse_to_start(error)


@worker_process_init.connect
def _start_pool_process(**_kwargs) -> None:
    # services.current() in a pool process builds the process's own services (the parent's
    # connections stay the parent's); open its connections now, so its first task does not wait.
    services.current()
    engine, redis = db.engine(), redis_client.get()

    def connect() -> None:
        engine.connect().close()
        redis.ping()

    in_background("connect", connect)


def in_background(what: str, action) -> None:
    """Start-up work of a pool process, done in a thread of its own: a worker_process_init handler
    must return within worker_proc_alive_timeout (4 s), and a database slow to answer must not
    cost the process. If it fails, the first task does the same work and fails or retries as usual."""

    def run() -> None:
        try:
            action()
        except Exception:  # noqa: BLE001 - said in the log; nothing depends on it
            log.warning("pool process start: %s failed; the first task will do it", what, exc_info=True)

    threading.Thread(target=run, name=f"mutt-start-{what}", daemon=True).start()


@before_task_publish.connect
def _carry_correlation_id(headers=None, **_kwargs) -> None:
    # A task enqueued inside `logs.correlated(cid)` carries cid to the worker that runs it.
    cid = logs.correlation_id.get()
    if cid and headers is not None:
        headers.setdefault(logs.TASK_HEADER, cid)


@task_prerun.connect
def _enter_correlation(task=None, **_kwargs) -> None:
    logs.correlation_id.set(getattr(task.request, logs.TASK_HEADER, None) or "")


@task_postrun.connect
def _leave_correlation(**_kwargs) -> None:
    logs.correlation_id.set("")


@worker_ready.connect
def _serve_metrics(**_kwargs) -> None:
    if config.env("WORKER_METRICS_PORT"):
        exporter.serve(int(config.number("WORKER_METRICS_PORT")), config.env("WORKER_METRICS_ADDRESS"))


@worker_process_shutdown.connect
def _pool_process_exited(pid=None, **_kwargs) -> None:
    exporter.process_exited(pid)
