"""Runtime settings: typed, bounded, stored in Redis, seen by every process within a second.

The registry below is the only list of runtime keys; the CLI (`mutt config`), the REST API
(`/api/v2/config/<key>`), the UI and `docs/configuration.md` are all built from it.

Reading is cheap: each process keeps a snapshot and checks one Redis version counter at most
every ``REFRESH_SECONDS``. Writing bumps the counter and publishes the key on a channel.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mutt_app import services
from mutt_app.core import params
from mutt_app.errors import InvalidChange
from mutt_app.storage import redis_keys

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

REFRESH_SECONDS = 0.5


class SettingError(InvalidChange):
    """An unknown key, or a value of the wrong type or out of bounds."""


TYPE_WORDS = {int: "a whole number", float: "a finite number", bool: "true or false", str: "text"}


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any
    description: str
    readers: tuple[str, ...]
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def limits(self) -> str:
        """What a value may be, in words, shown next to the field before anyone gets it wrong."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        words = TYPE_WORDS[self.type]
        if self.minimum is not None and self.maximum is not None:
            return f"{words}, {self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f"{words}, at least {self.minimum:g}"
        if self.maximum is not None:
            return f"{words}, at most {self.maximum:g}"
        return words

    def parse(self, raw: Any) -> Any:
        """The typed value of ``raw`` (a string from a CLI/form, or a JSON value), or SettingError."""
        value: Any
        try:
            if self.type is bool:
                if isinstance(raw, bool):
                    value = raw
                elif str(raw).strip().lower() in {"1", "true", "yes", "on"}:
                    value = True
                elif str(raw).strip().lower() in {"0", "false", "no", "off"}:
                    value = False
                else:
                    raise ValueError
            elif self.type is int:
                value = params.whole_number(raw, self.key)
            elif self.type is float:
                value = params.finite_number(raw, self.key)  # NaN would stop every comparison
            else:
                value = params.text(raw, self.key).strip()
        except (TypeError, ValueError):  # ParamError included
            raise SettingError(f"{self.key} must be {TYPE_WORDS[self.type]}, got {raw!r}") from None
        if self.choices and str(value) not in self.choices:
            raise SettingError(f"{self.key} must be one of {', '.join(self.choices)}, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise SettingError(f"{self.key} must be at least {self.minimum:g}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise SettingError(f"{self.key} must be at most {self.maximum:g}, got {value}")
        if self.type is str and not value and not self.choices:
            raise SettingError(f"{self.key} must not be empty")
        return value


def _s(key: str, type_: type, default: Any, description: str, readers: str, minimum: float | None = None,
       maximum: float | None = None, choices: tuple[str, ...] | None = None) -> Setting:
    return Setting(key, type_, default, description, tuple(readers.split(",")), minimum, maximum, choices)


REGISTRY: dict[str, Setting] = {
    s.key: s
    for s in (
        # ingest
        _s("max_ingest_queue_size", int, 1_000_000,
           "Events accepted but not yet processed above which ingest answers 503 with Retry-After.",
           "ingest", 1000, 100_000_000),
        _s("ingest_rate_limit", int, 600_000,
           "Requests one API key may make per ingest_rate_window (429 with Retry-After above it). 0 turns the limit off.",
           "ingest", 0, 100_000_000),
        _s("ingest_rate_window", int, 60, "Window in seconds for ingest_rate_limit.", "ingest", 1, 3600),
        _s("ingest_batch_size", int, 500,
           "Events per alerter batch: ingest cuts a batch as soon as this many are waiting.",
           "ingest", 1, 1000),
        _s("max_event_bytes", int, 65_536,
           "Largest event accepted, in bytes of its canonical JSON: a single event over it is refused with 413, an event of a batch is "
           "rejected (and dead-lettered) with the reason.",
           "ingest", 1024, 16 * 1024 * 1024),
        _s("ingest_flush_interval_ms", int, 100,
           "Longest the oldest accepted event waits for its batch to fill before the batch is sent on anyway.",
           "ingest", 5, 5000),
        # alerter
        _s("unhandled_threshold", int, 100,
           "Unhandled events from one host with one message fingerprint that raise a meta-alert.",
           "alerter", 1, 1_000_000),
        _s("unhandled_window_seconds", int, 86_400,
           "Sliding window for unhandled_threshold; also how long a fired meta-alert suppresses the next.",
           "alerter", 10, 30 * 86_400),
        _s("dedup_window_seconds", int, 300,
           "While an alert is open, events of its signature within this many seconds (event time) of the last request are counted, "
           "not re-sent; after it, one refresh carries the count. 0 sends every event.",
           "alerter", 0, 7 * 86_400),
        _s("flap_threshold", int, 4,
           "Open/cleared transitions of one alert within flap_window_seconds that mark it flapping (one request says so; later "
           "transitions are audited, not sent, until it is stable for the window).",
           "alerter", 2, 1000),
        _s("flap_window_seconds", int, 600,
           "Window for flap_threshold, and how long a flapping alert must be stable before its current state is sent.",
           "alerter", 1, 7 * 86_400),
        _s("unhandled_default_team", str, "NETO", "Team for meta-alerts of hosts that have no device team.", "alerter"),
        _s("alerter_queue_warn_threshold", int, 10_000,
           "Alerts waiting for Moogsoft above which the alerter logs a warning and sets mutt_alerter_backlog_warning.",
           "alerter", 1, 100_000_000),
        _s("alerter_queue_shed_threshold", int, 100_000,
           "Alerts waiting for Moogsoft above which the alerter sheds load (see alerter_shed_mode).",
           "alerter", 1, 100_000_000),
        _s("alerter_shed_mode", str, "defer",
           "What the alerter does above the shed threshold: defer (retry the batch later) or dlq (dead-letter its events with reason "
           "shed).",
           "alerter", choices=("defer", "dlq")),
        _s("alerter_defer_seconds", int, 5, "How long a deferred batch waits before it is tried again.", "alerter", 1, 600),
        # forwarder
        _s("moog_rate_limit", int, 50, "Alerts sent to Moogsoft per moog_rate_period, across all workers.", "forwarder", 1, 1_000_000),
        _s("moog_rate_period", float, 1.0, "Seconds in which at most moog_rate_limit alerts are sent.", "forwarder", 0.01, 3600),
        _s("moog_batch_size", int, 1,
           "Alerts per request to Moogsoft: 1 sends each alert as its own event (v2.5's format); more sends up to this many as one "
           "{\"events\": [...]} body, which needs an endpoint that takes Moogsoft's REST LAM list form.",
           "forwarder", 1, 500),
        _s("moog_concurrency", int, 8,
           "Requests to Moogsoft one forwarder task keeps in flight at once (it starts with one and doubles after each success).",
           "forwarder", 1, 64),
        _s("circuit_breaker_threshold", int, 10, "Consecutive failed sends that open the circuit breaker.", "forwarder", 1, 10_000),
        _s("circuit_breaker_timeout", int, 60, "Seconds the breaker stays open before one probe is let through.", "forwarder", 1, 86_400),
        _s("forwarding_stall_seconds", int, 300,
           "Forwarding counts as stalled or failing when an alert has waited longer than this, or alerts became dead letters within it, "
           "and no alert was delivered within it: a problem in mutt status, /health/forwarder (503) and the dashboard.",
           "web", 10, 86_400),
        # remediation
        _s("remediation_interval", int, 60, "Seconds between remediation runs.", "remediation", 5, 86_400),
        _s("remediation_batch_size", int, 100, "Dead letters replayed per remediation run at most.", "remediation", 1, 10_000),
        _s("remediation_max_replays", int, 3, "Replays after which a dead letter is parked as poison for a human.", "remediation", 1, 100),
        # janitor
        _s("janitor_stuck_after_seconds", int, 45,
           "Work held longer than this past its lease is re-enqueued by the janitor.",
           "janitor", 5, 86_400),
        _s("janitor_max_attempts", int, 5,
           "Times a piece of work may be picked up and lost (worker crash) before it becomes a dead letter.",
           "janitor", 1, 100),
        _s("retention_event_audit_days", int, 90,
           "Days event-audit rows are kept (whole months are dropped on PostgreSQL).",
           "janitor", 1, 3650),
        _s("retention_config_audit_days", int, 365, "Days config-audit rows are kept.", "janitor", 1, 3650),
        _s("retention_dead_letter_days", int, 30, "Days replayed or poison dead letters are kept.", "janitor", 1, 3650),
        _s("retention_alert_days", int, 30,
           "Days delivered and dead alerts (the outbox, each with its event) are kept; pending and sending ones always, a dead one while "
           "a dead letter holds it.",
           "janitor", 1, 3650),
        # web
        _s("login_max_failures", int, 5,
           "Failed logins (and wrong current passwords at /password) from one address or for one user before further attempts get 429.",
           "web", 1, 1000),
        _s("login_lockout_seconds", int, 300, "How long login stays throttled after login_max_failures.", "web", 1, 86_400),
        # all
        _s("log_level", str, "INFO", "Log level of every MUTT process.", "all", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    )
}


def setting(key: str) -> Setting:
    try:
        return REGISTRY[key]
    except KeyError:
        raise SettingError(f"unknown setting {key!r}; `mutt config list` shows them all") from None


class RuntimeConfig:
    """A process's view of the runtime settings, refreshed from Redis when the version moves."""

    def __init__(self, redis_client: Redis) -> None:
        self._redis = redis_client
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}
        self._version: str | bytes | None = None  # as the client returns it; compared, never read
        self._checked_at = 0.0

    def get(self, key: str) -> Any:
        self._refresh()
        value = self._values.get(key)
        return REGISTRY[key].default if value is None else value

    def explicit(self, key: str) -> Any:
        """The value set for ``key``, or None when it is at its default."""
        self._refresh()
        return self._values.get(key)

    def overrides(self) -> dict[str, Any]:
        """The keys set away from their defaults."""
        self._refresh(force=True)
        return dict(self._values)

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < REFRESH_SECONDS:
            return
        # Once loaded, a thread that finds another refreshing uses the values known so far: while
        # Redis hangs, a refresh takes REDIS_TIMEOUT, and requests must not queue behind it.
        if not self._lock.acquire(blocking=force or self._checked_at == 0.0):
            return
        try:
            if not force and now - self._checked_at < REFRESH_SECONDS:
                return  # another thread refreshed while this one waited for the lock
            version = self._redis.get(redis_keys.CONFIG_VERSION)
            if force or version != self._version:
                raw = self._redis.hgetall(redis_keys.CONFIG)
                values = {}
                for key, text in raw.items():
                    if key in REGISTRY:
                        try:
                            values[key] = REGISTRY[key].parse(json.loads(text))
                        except (SettingError, ValueError) as error:  # a value an older release wrote
                            log.warning("runtime setting %s: the stored value is refused (%s); the default applies",
                                        key, error)
                self._values, self._version = values, version
        finally:
            self._checked_at = time.monotonic()  # a failed check counts too: the next is due in REFRESH_SECONDS
            self._lock.release()

    def store(self, key: str, value: Any) -> Any:
        """Write a parsed value (None unsets); returns the previous effective value."""
        old = self.get(key)
        pipe = self._redis.pipeline(transaction=True)
        if value is None:
            pipe.hdel(redis_keys.CONFIG, key)
        else:
            pipe.hset(redis_keys.CONFIG, key, json.dumps(value, allow_nan=False))
        pipe.incr(redis_keys.CONFIG_VERSION)
        pipe.publish(redis_keys.CONFIG_CHANNEL, key)
        pipe.execute()
        self._checked_at = 0.0
        return old


def runtime(redis_client: Redis | None = None) -> RuntimeConfig:
    """This process's view of the runtime settings in ``redis_client``'s database (default: the
    configured Redis): one per database, whichever client asks, so a change made through one
    client is seen at once through every other client of that database."""
    if redis_client is None:
        from mutt_app.storage import redis_client as rc
        redis_client = rc.get()
    client = redis_client
    process = services.current()

    def view() -> tuple[Any, RuntimeConfig]:
        database = ("runtime settings", _database_of(client))
        return client, process.own(database, lambda: RuntimeConfig(client))

    # the lookup by database, remembered per client (held, so its id is not reused)
    known = process.own(("runtime settings of client", id(client)), view)
    return known[1] if known[0] is client else view()[1]


def _database_of(client: Redis) -> tuple[Any, ...]:
    """Which Redis database ``client`` talks to: (socket path or host and port, db number)."""
    kwargs = client.connection_pool.connection_kwargs
    return kwargs.get("path") or (kwargs.get("host"), kwargs.get("port")), kwargs.get("db", 0)


def describe(key: str | None = None) -> list[dict[str, Any]]:
    """Every setting (or one) as the CLI, API and UI show it: value, default, bounds, readers."""
    overrides = runtime().overrides()
    chosen = [setting(key)] if key is not None else list(REGISTRY.values())
    return [
        {
            "key": s.key,
            "value": overrides.get(s.key, s.default),
            "default": s.default,
            "overridden": s.key in overrides,
            "type": s.type.__name__,
            "minimum": s.minimum,
            "maximum": s.maximum,
            "choices": list(s.choices) if s.choices else None,
            "readers": list(s.readers),
            "description": s.description,
        }
        for s in chosen
    ]


def get(key: str) -> Any:
    """The current value of runtime setting ``key``."""
    setting(key)
    return runtime().get(key)


def log_level() -> str:
    """The level processes log at now: the runtime setting log_level, LOG_LEVEL while it is unset
    (``mutt_app.core.logs`` follows it)."""
    from mutt_app import config
    return runtime().explicit("log_level") or config.get().log_level


def change(session: Session, key: str, raw: Any, *, actor: str, reason: str = "", correlation_id: str = "") -> tuple[Any, Any]:
    """Set (or, with ``raw=None``, unset) a runtime setting and audit it in ``session``.

    Returns (old, new) effective values. The audit row is flushed before Redis is written, so a
    database that refuses the row leaves the setting untouched.
    """
    from mutt_app.audit import config_audit
    definition = setting(key)
    value = None if raw is None else definition.parse(raw)
    config = runtime()
    old = config.get(key)
    new = definition.default if value is None else value
    config_audit.record(
        session,
        actor=actor,
        operation="DELETE" if value is None else "UPDATE",
        table="runtime_settings",
        record_id=key,
        old={"value": old},
        new={"value": new},
        reason=reason,
        correlation_id=correlation_id,
    )
    session.flush()
    config.store(key, value)
    return old, new
