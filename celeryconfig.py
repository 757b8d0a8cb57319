"""Every Celery setting MUTT uses, from the environment with safe defaults.

Queue names are constants here and nowhere else; tests check that every queue is consumed by
the embedded run and by docker-compose.yml.

Importing this module reads only the variables below from the environment (never the secret key)
and neither writes nor fails: a value that is not a number stands at its default here, and
:func:`check`, which every MUTT process runs as it starts (the CLI's commands, the web app factory,
a worker's or beat's ``worker_init``/``beat_init``), raises the
:class:`mutt_app.config.ConfigurationError` that names it, and every combination MUTT cannot run with.
"""

from collections.abc import Callable
from typing import Any

from kombu import Queue

from mutt_app import config
from mutt_app.storage import redis_keys

ALERTS_QUEUE = "alerts"            # mutt.process_events: rule matching, audit, roll-up
MOOG_QUEUE = "moog"                # mutt.forward_alerts / mutt.forward_alert: delivery to Moogsoft
JANITOR_QUEUE = "janitor"          # mutt.janitor: recover stuck work, partitions, retention
REMEDIATION_QUEUE = "remediation"  # mutt.remediate: replay dead letters whose cause cleared
QUEUES = (ALERTS_QUEUE, MOOG_QUEUE, JANITOR_QUEUE, REMEDIATION_QUEUE)

_problems: list[str] = []  # what check() reports, in the order found


def _number(name: str, kind: type = int):
    try:
        return config.number(name, kind)
    except config.ConfigurationError as error:
        _problems.append(str(error))
        return kind(config.declared_default(name))


def _broker_option(read: Callable[[], Any], instead: Any) -> Any:
    """``read()``, or ``instead`` and the problem kept for :func:`check`."""
    try:
        return read()
    except config.ConfigurationError as error:
        _problems.append(str(error))
        return instead


def _flag(name: str) -> bool:
    try:
        return config.flag(name)
    except config.ConfigurationError as error:
        _problems.append(str(error))
        return config.declared_default(name) == "true"


def _require(holds: bool, problem: str) -> None:
    """A setting combination MUTT cannot run with stops every process at start-up (not an assert:
    ``python -O`` strips those)."""
    if not holds:
        _problems.append(problem)


def check() -> None:
    """Raise the :class:`mutt_app.config.ConfigurationError` that names each setting below MUTT
    cannot run with (values that are not numbers first, then combinations)."""
    if _problems:
        raise config.ConfigurationError("; ".join(dict.fromkeys(_problems)))  # a TLS problem is found by two broker options


_visibility_timeout = _number("CELERY_VISIBILITY_TIMEOUT")
moog_timeout = _number("MOOG_TIMEOUT", float)  # one send to Moogsoft (the claim must outlast two)

broker_url = config.broker_url()
broker_connection_retry_on_startup = True
broker_transport_options = {
    "visibility_timeout": _visibility_timeout,
    **config.BROKER_SOCKET_TIMEOUTS,
    "health_check_interval": 30,
    **_broker_option(config.broker_sentinel_options, {}),  # sentinel://: the primary's name, the Sentinels' password, TLS
}
broker_use_ssl = _broker_option(config.broker_use_ssl, False)  # a sentinel:// broker with REDIS_TLS: TLS to the primary the Sentinels name

task_serializer = "json"
accept_content = ["json"]
result_serializer = "json"
task_ignore_result = True
result_backend = None

task_queues = [Queue(name) for name in QUEUES]
task_default_queue = ALERTS_QUEUE
task_create_missing_queues = False
task_routes = {
    "mutt.process_events": {"queue": ALERTS_QUEUE},
    "mutt.forward_alerts": {"queue": MOOG_QUEUE},
    "mutt.forward_alert": {"queue": MOOG_QUEUE},
    "mutt.janitor": {"queue": JANITOR_QUEUE},
    "mutt.store_rejected": {"queue": JANITOR_QUEUE},
    "mutt.remediate": {"queue": REMEDIATION_QUEUE},
    "mutt.check_heartbeats": {"queue": JANITOR_QUEUE},
}

# Delivery is at least once: a task is acknowledged after it ran, every task is idempotent, and
# the janitor re-enqueues work whose worker died (Celery alone would wait for the visibility
# timeout, or, with reject_on_worker_lost, loop forever on a message that kills workers).
task_acks_late = True
task_reject_on_worker_lost = False
task_acks_on_failure = True
task_acks_on_timeout = True
worker_prefetch_multiplier = 1
worker_cancel_long_running_tasks_on_connection_loss = True
task_time_limit = _number("CELERY_TASK_TIME_LIMIT")
task_soft_time_limit = max(task_time_limit - 30, 10)
# A claim (batch or alert) far shorter than the time limits, so work of a killed worker is
# recovered within a minute; a task that outlives its claim only risks a harmless duplicate.
claim_lease_seconds = _number("CLAIM_LEASE_SECONDS")
_require(claim_lease_seconds >= 2 * moog_timeout + 10,
         f"CLAIM_LEASE_SECONDS={claim_lease_seconds} must be at least 2 x MOOG_TIMEOUT + 10 = "
         f"{2 * moog_timeout + 10:g} (MOOG_TIMEOUT={moog_timeout:g}): a claim must outlast a send and its retry")
worker_max_memory_per_child = 240_000  # KiB: a leaking pool process is replaced before 250 MB
worker_send_task_events = _flag("CELERY_TASK_EVENTS")
task_send_sent_event = worker_send_task_events
worker_hijack_root_logger = False
worker_redirect_stdouts = False

# Forwarding retries (see tasks/forwarder.py); every countdown stays far below the visibility timeout.
moog_max_retries = _number("MOOG_MAX_RETRIES")
moog_retry_backoff = _number("MOOG_RETRY_BACKOFF")
moog_retry_backoff_max = _number("MOOG_RETRY_BACKOFF_MAX")
moog_retry_jitter = _flag("MOOG_RETRY_JITTER")
_require(moog_retry_backoff_max * 4 < _visibility_timeout,
         f"MOOG_RETRY_BACKOFF_MAX={moog_retry_backoff_max} must be below a quarter of CELERY_VISIBILITY_TIMEOUT="
         f"{_visibility_timeout}: the broker would deliver a retry waiting for its countdown a second time")
_require(task_time_limit * 4 < _visibility_timeout,
         f"CELERY_TASK_TIME_LIMIT={task_time_limit} must be below a quarter of CELERY_VISIBILITY_TIMEOUT="
         f"{_visibility_timeout}: the broker would deliver a running task a second time")

timezone = "UTC"
enable_utc = True
_janitor_interval = _number("JANITOR_INTERVAL", float)
beat_schedule = {
    "janitor": {"task": "mutt.janitor", "schedule": _janitor_interval, "options": {"expires": _janitor_interval}},
    # runs often and returns at once until remediation_interval (a runtime setting) has passed
    "remediation": {"task": "mutt.remediate", "schedule": 5.0, "options": {"expires": 5.0}},
    # rejected ingest items into dead letters, should the ask that ingest sends have been lost
    "store-rejected": {"task": "mutt.store_rejected", "schedule": _janitor_interval,
                       "options": {"expires": _janitor_interval}},
    # sources that fell quiet (mutt_app/operations/heartbeats.py; CHECK_EVERY there is this 5 s)
    "heartbeats": {"task": "mutt.check_heartbeats", "schedule": 5.0, "options": {"expires": 5.0}},
}

# Two beats may run (ADR 0017): RedBeat keeps the schedule and each entry's last run in Redis, and
# only the beat holding its lock sends; another waits for the lock and takes over within
# beat_lock_seconds of the first one's death, from the last runs stored (no interval is run twice).
beat_scheduler = "mutt_app.celery_app:BeatScheduler"
beat_max_loop_interval = 5           # a waiting beat tries for the lock this often; a tick is never longer
beat_lock_seconds = _number("BEAT_LOCK_SECONDS")  # the lock lapses this long after its holder stopped renewing it
_require(beat_lock_seconds >= 2 * beat_max_loop_interval,
         f"BEAT_LOCK_SECONDS={beat_lock_seconds} must be at least {2 * beat_max_loop_interval}: the beat that holds the lock renews it "
         f"every {beat_max_loop_interval} s")
beat_redis_retry_seconds = 60        # the holder retries Redis (a failover) this long before it gives up
redbeat_key_prefix = redis_keys.BEAT_PREFIX
redbeat_lock_timeout = beat_lock_seconds
redbeat_redis_url = broker_url.split(";")[0]  # beat's banner only (it reads one address): the client is MUTT's (BeatScheduler)
redbeat_redis_options = {"retry_period": beat_redis_retry_seconds}
