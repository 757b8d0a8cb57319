"""Structured logs: one JSON object per line, carrying the correlation id of the event at hand."""

from __future__ import annotations

import contextvars
import json
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from mutt_app import config, services
from mutt_app.core import outages
from mutt_app.errors import brief

log = logging.getLogger(__name__)
correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")
TASK_HEADER = "mutt_correlation_id"  # Celery message header; AMQP's own correlation_id is the task id

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = getattr(record, "correlation_id", None) or correlation_id.get()
        if cid:
            document["correlation_id"] = cid
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in document and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")


_configured = False
LEVEL_CHECK_SECONDS = 0.5
FAILURE_LOG_SECONDS = 60.0  # while log_level cannot be read, one warning per this many seconds
_applied: str | None = None  # the level the runtime setting last asked for


def configure(level: str | None = None, runtime_level: Callable[[], str] | None = None) -> None:
    """Install the handler on the root logger once per process; with ``runtime_level`` (the level
    the runtime setting `log_level` asks for: ``mutt_app.dynconfig.log_level``), follow it."""
    global _configured, _applied
    settings = config.get()
    root = logging.getLogger()
    if not _configured:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
        root.handlers[:] = [handler]
        _configured = True
    _applied = level or settings.log_level
    root.setLevel(_applied)
    if runtime_level is not None:
        follow_runtime_level(runtime_level)


def apply_runtime_level(runtime_level: Callable[[], str]) -> str:
    """Set the root level when the runtime setting `log_level` (LOG_LEVEL while unset) moves.

    Only a change of the setting touches the root logger, so a level set in code (a test's
    caplog) stands until an operator changes the setting.
    """
    global _applied
    level = runtime_level()
    if level != _applied:
        root = logging.getLogger()
        root.setLevel(level)
        _applied = level
        root.log(max(logging.INFO, root.level), "log level is now %s", level)
    return level


def check_runtime_level(runtime_level: Callable[[], str], warned_at: float) -> float:
    """One check of the follower thread: :func:`apply_runtime_level`, or, when that fails, keep the
    level we have and say so, at most once per FAILURE_LOG_SECONDS (``warned_at``: when it was last
    said, time.monotonic()). Returns when it was last said."""
    try:
        apply_runtime_level(runtime_level)
    except Exception as error:  # noqa: BLE001 - the thread must live on (Redis away): keep the level, try again
        now = time.monotonic()
        if now - warned_at >= FAILURE_LOG_SECONDS:
            log.warning("cannot read the runtime setting log_level (%s); keeping %s and trying again every %g s",
                        brief(error), logging.getLevelName(logging.getLogger().level), LEVEL_CHECK_SECONDS,
                        exc_info=outages.unavailable(error) is None)  # not an outage: a bug, show where
            return now
    return warned_at


FOLLOWER = "mutt-log-level"


def _follow(runtime_level: Callable[[], str], stop: threading.Event) -> None:
    warned_at = -math.inf
    while not stop.is_set():
        warned_at = check_runtime_level(runtime_level, warned_at)
        stop.wait(LEVEL_CHECK_SECONDS)


def stop_following() -> None:
    services.current().stop(FOLLOWER)


def follow_runtime_level(runtime_level: Callable[[], str]) -> None:
    """Start (once per process; a forked child's services start it again) the thread that applies
    `log_level` changes."""
    services.current().keep_running(FOLLOWER, lambda stop: _follow(runtime_level, stop))


@contextmanager
def correlated(cid: str) -> Iterator[None]:
    """Tag every log line inside the block with ``cid``."""
    token = correlation_id.set(cid or "")
    try:
        yield
    finally:
        correlation_id.reset(token)
