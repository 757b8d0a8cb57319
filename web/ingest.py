"""POST /api/v2/ingest (aliases /ingest and /api/v1/ingest) and POST /api/v2/webhooks/alertmanager.

These paths are answered by a small WSGI handler in front of the Flask app rather than by a Flask
view: Flask's per-request machinery (request context, session, hooks) cost more CPU than the
whole ingest work, and ingest is the one path that must take thousands of requests a second.
Everything else goes on to Flask. The handler is still thin: authenticate, read the body,
normalise each item (mutt_app.ingest.events), hand the events to mutt_app.ingest.accept, translate the
outcome into v2.5's answers. Errors use v2.5's shape ``{"status": "error", "message": ...,
"correlation_id": ...}``; never a 500, never an exception text.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask
from prometheus_client import Counter
from redis.exceptions import RedisError
from werkzeug.datastructures import EnvironHeaders

from mutt_app import handoff
from mutt_app.core import logs, metrics, params
from mutt_app.ingest import events
from mutt_app.ingest.accept import BACKLOG_RETRY_AFTER, Ingest
from mutt_app.ingest.buffer import QUEUED, RATE_LIMITED, UNREPLICATED
from mutt_app.storage import redis_client
from web import correlation_id
from web.api import API_VERSION
from web.security import authenticate_key

log = logging.getLogger(__name__)

# path -> the `_source` its events get
PATHS = {
    "/api/v2/ingest": "ingest",
    "/api/v1/ingest": "ingest",
    "/ingest": "ingest",
    "/api/v2/webhooks/alertmanager": "alertmanager",
}
PARSERS = {"ingest": events.parse_body, "alertmanager": lambda text, _media: events.parse_alertmanager(text)}

# Query parameters that would put a key in a URL (and so in proxy and access logs).
URL_KEY_PARAMETERS = {"api_key", "apikey", "api-key", "x-api-key", "key", "token", "access_token"}

REASONS = {200: "", 400: "json", 401: "auth", 403: "auth", 405: "method", 413: "too_large", 415: "content_type",
           429: "rate_limit", 503: "unavailable"}
STATUS_LINES = {status: f"{status} {HTTPStatus(status).phrase}" for status in REASONS}


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    reason: str
    retry_after: float | None = None


def _error(cid: str, status: int, message: str, reason: str | None = None, retry_after: float | None = None,
           **extra) -> Answer:
    """v2.5's error shape; 429 also carries v2.5's retry_after body field."""
    body = {"status": "error", "message": message, "correlation_id": cid, **extra}
    if status == 429:
        body["retry_after"] = max(1, math.ceil(retry_after or 0))
    return Answer(status, body, REASONS[status] if reason is None else reason, retry_after)


class IngestEndpoint:
    """WSGI middleware: answers the ingest paths itself, hands every other request to ``app``."""

    def __init__(self, app, config) -> None:
        self.app = app
        # The Flask app's: MAX_CONTENT_LENGTH; MUTT_INGEST_FLUSHER (default: on, off under TESTING, so
        # that no background thread cuts the buffer under another test's feet).
        self.config = config
        self._ingest: Ingest | None = None
        self._lock = threading.Lock()
        self._requests: dict[tuple[int, str], Counter] = {}  # the counter's child per (status, reason)
        self._accepted = metrics.INGEST_EVENTS.labels(outcome="accepted")
        self._rejected = metrics.INGEST_EVENTS.labels(outcome="rejected")

    def pipeline(self) -> Ingest:
        """This process's ingest pipeline (rebuilt after a fork, with its own Redis client)."""
        client = redis_client.get()
        if self._ingest is None or self._ingest.buffer.redis is not client:
            with self._lock:
                if self._ingest is None or self._ingest.buffer.redis is not client:
                    self._ingest = Ingest(client, handoff.process_batch, handoff.store_rejected)
        return self._ingest

    def __call__(self, environ, start_response):
        source = PATHS.get(environ.get("PATH_INFO", ""))
        if source is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        cid = correlation_id(environ.get("HTTP_X_CORRELATION_ID"))
        token = logs.correlation_id.set(cid)
        try:
            answer = self._answer(environ, source, cid)
        finally:
            logs.correlation_id.reset(token)
        self._count(answer.status, answer.reason)
        payload = json.dumps(answer.body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                   ("X-Correlation-ID", cid)]
        if answer.retry_after is not None:
            headers.append(("Retry-After", str(max(1, math.ceil(answer.retry_after)))))
        if answer.status == 405:
            headers.append(("Allow", "POST"))
        if environ["PATH_INFO"].startswith("/api/"):
            headers.append(("X-API-Version", API_VERSION))
        if environ["PATH_INFO"].startswith("/api/v1/"):
            headers.append(("X-API-Deprecated", "true"))
        start_response(STATUS_LINES[answer.status], headers)
        metrics.INGEST_LATENCY.observe(time.perf_counter() - started)
        return [payload]

    def _count(self, status: int, reason: str) -> None:
        child = self._requests.get((status, reason))
        if child is None:
            child = self._requests[(status, reason)] = metrics.INGEST_REQUESTS.labels(
                status="success" if status == 200 else "fail", reason=reason)
        child.inc()

    def _answer(self, environ, source: str, cid: str) -> Answer:
        try:
            return self._ingest_request(environ, source, cid)
        except RedisError as failure:
            log.warning("ingest: Redis unavailable (%s: %.200s)", type(failure).__name__, failure)
            return _error(cid, 503, "Service Unavailable - Redis error", "redis", BACKLOG_RETRY_AFTER)
        except Exception:  # noqa: BLE001 - never a 500: the sender retries a 503, the log has the rest
            log.exception("ingest: unexpected error")
            return _error(cid, 503, "Service Unavailable - internal error; the correlation id finds it in the logs",
                          "unknown", BACKLOG_RETRY_AFTER)

    def _ingest_request(self, environ, source: str, cid: str) -> Answer:
        if environ.get("REQUEST_METHOD") != "POST":
            return _error(cid, 405, "use POST")
        query = environ.get("QUERY_STRING")
        if query and URL_KEY_PARAMETERS & {name.lower() for name, _ in parse_qsl(query, keep_blank_values=True)}:
            return _error(cid, 401, "API keys are accepted only in the X-API-KEY or Authorization: Bearer "
                                    "header, never in the URL; revoke a key that was sent in one")
        key = authenticate_key(EnvironHeaders(environ))
        if key is None:
            return _error(cid, 401, "Unauthorized")
        if not key.allows("ingest"):
            return _error(cid, 403, "this API key lacks the ingest scope")
        pipeline = self.pipeline()
        if self.config.get("MUTT_INGEST_FLUSHER", not self.config.get("TESTING")):
            pipeline.ensure_flusher()

        limit = self.config["MAX_CONTENT_LENGTH"]
        try:
            media = events.media_type(environ.get("CONTENT_TYPE"))
            text = events.decode(_body(environ, limit), environ.get("HTTP_CONTENT_ENCODING"), limit)
            parsed = PARSERS[source](text, media)
        except events.TooLarge as failure:
            return _error(cid, 413, str(failure))
        except events.UnsupportedMediaType as failure:
            return _error(cid, 415, str(failure))
        except events.BodyError as failure:
            return _error(cid, 400, str(failure))

        valid, rejected = pipeline.read(parsed.items, events.Stamp(cid, events.now_iso(), source, key.name))
        if not parsed.batch and rejected:
            if rejected[0].too_large:
                return _error(cid, 413, rejected[0].error)
            return _error(cid, 400, rejected[0].error, "validation")

        result = pipeline.submit(valid, rejected, key_id=str(key.id), key_name=key.name, correlation_id=cid)
        if result.status == RATE_LIMITED:
            metrics.INGEST_RATE_LIMIT_HITS.inc()
            return _error(cid, 429, "Too Many Requests - rate limit exceeded", retry_after=result.retry_after)
        if result.status == UNREPLICATED:
            return _error(cid, 503, "Service Unavailable - no Redis replica confirmed the events in time", "unreplicated",
                          result.retry_after)
        if result.status != QUEUED:
            return _error(cid, 503, "Service Unavailable - queue full", "queue_full", result.retry_after,
                          queue_depth=result.backlog, queue_limit=result.queue_limit)

        self._accepted.inc(result.accepted)
        if rejected:
            self._rejected.inc(len(rejected))
        if not parsed.batch:
            return Answer(200, {"status": "queued", "correlation_id": cid, "queue_depth": result.backlog}, "")
        return Answer(200, {"status": "queued", "accepted": result.accepted,
                            "rejected": [{"index": item.index, "error": item.error} for item in rejected],
                            "correlation_id": cid}, "")


def _body(environ, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (events.TooLarge beyond)."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            length = params.whole_number(length, "Content-Length", minimum=0)  # int() would read "٣" as 3
        except params.ParamError:
            raise events.BodyError("Content-Length: not a number") from None
        if length > limit:
            raise events.TooLarge(f"body: {length} bytes; at most {limit}")
        return stream.read(length)
    if environ.get("wsgi.input_terminated"):  # chunked: read until the end, up to the limit
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise events.TooLarge(f"body: more than {limit} bytes")
        return body
    return b""


def init_app(app: Flask) -> None:
    app.wsgi_app = IngestEndpoint(app.wsgi_app, app.config)  # type: ignore[method-assign]  # Flask's way to wrap its WSGI app


def endpoint(app: Flask) -> IngestEndpoint:
    """The ingest handler installed on ``app`` (tests reach its pipeline through it)."""
    handler: Any = app.wsgi_app  # a chain of WSGI middleware, each holding the next in .app
    while not isinstance(handler, IngestEndpoint):
        handler = handler.app
    return handler
