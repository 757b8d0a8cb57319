"""Structured logs: one JSON object per line, carrying the correlation id of the event at hand."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from contextlib import contextmanager
from datetime import datetime, timezone

from mutt_app import config

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
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


def configure(level: str | None = None) -> None:
    """Install the handler on the root logger once per process."""
    global _configured
    settings = config.get()
    root = logging.getLogger()
    if not _configured:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
        root.handlers[:] = [handler]
        _configured = True
    root.setLevel(level or settings.log_level)


@contextmanager
def correlated(cid: str):
    """Tag every log line inside the block with ``cid``."""
    token = correlation_id.set(cid or "")
    try:
        yield
    finally:
        correlation_id.reset(token)
