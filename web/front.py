"""The web server's front layer: the request body arrives before an app thread is taken.

Under granian's WSGI interface a request goes to an app thread as soon as its headers are in, and
``wsgi.input.read()`` then blocks that thread until the client has sent the body, with no
deadline: a few dozen clients that announce a body and never send it hold every app thread, and
``/health``, ingest and the UI stop answering (ADR 0011). `mutt web` therefore serves
:class:`Front` under granian's RSGI interface instead. Per request, on the worker's event loop
(a coroutine, not a thread):

1. a client address with ``per_client`` requests already in progress in this process gets
   **429** with ``Retry-After``;
2. a body announced larger than ``max_body`` gets **413** before a byte of it is read; a chunked
   one is cut off at ``max_body``;
3. the body must be complete within ``body_timeout`` seconds of the headers (a stalled or
   dripped body gets **408** and the connection is closed);
4. only then is the WSGI app called, with the whole body in memory, on one of ``threads`` app
   threads, and its answer sent.

The answers the front layer makes itself use ingest's (v2.5's) error shape and carry a
correlation id. Any WSGI server can still serve the app alone (``web.wsgi:app``), without these
bounds.
"""

from __future__ import annotations

import asyncio
import collections
import io
import json
import logging
import math
import queue
import sys
import threading

from mutt_app.core import metrics
from web import correlation_id

log = logging.getLogger(__name__)

BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "TRACE"})
# RSGI gives header names in lower case; WSGI joins repeated request headers into one value.
_JOINERS = {"cookie": "; "}


def client_address(client: str) -> str:
    """The address part of RSGI's ``client`` ("1.2.3.4:5678", "[::1]:5678")."""
    return client.rpartition(":")[0].strip("[]") or client


def wsgi_environ(scope, body: bytes) -> dict:
    """The WSGI environ of an RSGI request whose body has been read."""
    server_name, _, server_port = scope.server.rpartition(":")
    environ = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": scope.path.encode("utf-8", "surrogateescape").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": server_name.strip("[]"),
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": client_address(scope.client),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,  # the whole body is there: read to the end (werkzeug)
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope.headers.items():
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name == "content-length":
            environ["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = environ[key] + _JOINERS.get(name, ",") + value if key in environ else value
    if "HTTP_HOST" not in environ and scope.authority:  # HTTP/2
        environ["HTTP_HOST"] = scope.authority
    return environ


class _TooLarge(Exception):
    pass


class _Incomplete(Exception):
    pass


async def read_body(proto, declared: int | None, limit: int) -> bytes:
    """The whole body: ``declared`` bytes (Content-Length), or chunks up to ``limit`` bytes."""
    if declared is not None:
        body = await proto()
        if len(body) != declared:  # the client went away mid-body
            raise _Incomplete
        return body
    chunks, size = [], 0
    async for chunk in proto:
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _Deadlines:
    """Body deadlines of one event loop, checked every ``SWEEP`` seconds: cheaper per request than
    a timer each (``asyncio.timeout``), and a deadline a fraction of a second late changes nothing."""

    SWEEP = 0.25

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[asyncio.Task, float] = {}  # task reading a body -> when its time is up
        self.expired: set[asyncio.Task] = set()
        loop.call_later(self.SWEEP, self._sweep)

    def _sweep(self) -> None:
        now = self.loop.time()
        for task, deadline in list(self.waiting.items()):
            if deadline <= now:
                del self.waiting[task]
                self.expired.add(task)
                task.cancel()
        self.loop.call_later(self.SWEEP, self._sweep)


class Front:
    """An RSGI app that reads each request's body with a deadline, then runs ``wsgi_app`` on a thread."""

    def __init__(self, wsgi_app, *, threads: int, body_timeout: float, per_client: int, max_body: int) -> None:
        self.wsgi_app = wsgi_app
        self.body_timeout = body_timeout
        self.per_client = per_client
        self.max_body = max_body
        self.in_progress: dict[str, int] = {}  # client address -> requests; touched on the event loop only
        self._deadlines: _Deadlines | None = None
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._answers: collections.deque = collections.deque()
        self._wake_scheduled = False
        for number in range(threads):
            threading.Thread(target=self._app_thread, name=f"mutt-web-{number}", daemon=True).start()
        self._refused = {reason: metrics.WEB_REFUSED.labels(reason=reason)
                         for reason in ("per_client", "too_large", "body_timeout", "incomplete")}

    async def __call__(self, scope, proto) -> None:
        if scope.proto != "http":  # `mutt web` runs with websockets off
            return
        address = client_address(scope.client)
        running = self.in_progress.get(address, 0)
        if self.per_client and running >= self.per_client:
            self._refuse(scope, proto, 429, "per_client",
                         f"Too Many Requests - {running} requests from {address} in progress; at most "
                         f"{self.per_client}", retry_after=1)
            return
        self.in_progress[address] = running + 1
        try:
            body = b""
            declared = scope.headers.get("content-length")
            if declared is not None or scope.method not in BODYLESS_METHODS or "transfer-encoding" in scope.headers:
                read = await self._body(scope, proto, declared)
                if read is None:
                    return
                body = read
            loop = asyncio.get_running_loop()
            answered = loop.create_future()
            self._jobs.put((loop, answered, wsgi_environ(scope, body)))
            status, headers, payload = await answered
            proto.response_bytes(status, headers, payload)
        finally:
            left = self.in_progress[address] - 1
            if left:
                self.in_progress[address] = left
            else:
                del self.in_progress[address]

    async def _body(self, scope, proto, declared: str | None) -> bytes | None:
        """The request body, or None when it was refused (answered here)."""
        length = int(declared) if declared is not None else None  # granian (hyper) answered 400 to a bad one
        if length is not None and length > self.max_body:
            self._refuse(scope, proto, 413, "too_large", f"body: {length} bytes; at most {self.max_body}")
            return None
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Front reads a body inside the request's asyncio task")  # granian always runs one
        deadlines = self._deadlines
        if deadlines is None or deadlines.loop is not task.get_loop():
            deadlines = self._deadlines = _Deadlines(task.get_loop())
        deadlines.waiting[task] = deadlines.loop.time() + self.body_timeout
        try:
            return await read_body(proto, length, self.max_body)
        except asyncio.CancelledError:
            if task not in deadlines.expired:
                raise
            deadlines.expired.discard(task)
            task.uncancel()
            self._refuse(scope, proto, 408, "body_timeout",
                         f"Request Timeout - the body did not arrive within {self.body_timeout:g} s")
        except _TooLarge:
            self._refuse(scope, proto, 413, "too_large", f"body: more than {self.max_body} bytes")
        except (_Incomplete, RuntimeError):  # RuntimeError: granian's protocol closed or failed
            self._refuse(scope, proto, 400, "incomplete", "the body ended before its Content-Length")
        finally:
            deadlines.waiting.pop(task, None)
        return None

    def _app_thread(self) -> None:
        """One of the app threads: run queued requests, hand the answers back to the event loop.

        Answers that finish while the loop has not yet woken up for an earlier one go with it:
        under load, fewer wake-ups (each a thread switch) than answers."""
        while True:
            loop, answered, environ = self._jobs.get()
            self._answers.append((answered, self._call(environ)))
            if not self._wake_scheduled:
                self._wake_scheduled = True
                loop.call_soon_threadsafe(self._deliver_answers)

    def _deliver_answers(self) -> None:
        self._wake_scheduled = False  # before draining: an answer added from now on schedules a wake-up
        while self._answers:
            answered, value = self._answers.popleft()
            if not answered.done():  # not cancelled (the server is stopping)
                answered.set_result(value)

    def _call(self, environ: dict) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run the WSGI app on an app thread; its whole answer (MUTT's answers are small)."""
        started: list = []

        def start_response(status: str, headers, exc_info=None):
            started[:] = [int(status.split(" ", 1)[0]), headers]

        try:
            result = self.wsgi_app(environ, start_response)
            try:
                payload = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            return started[0], started[1], payload
        except Exception:  # noqa: BLE001 - Flask answers its own errors; this is the last resort
            log.exception("web: the app failed outside its error handlers")
            payload = b'{"status": "error", "message": "internal error"}'
            return 500, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))], payload

    def _refuse(self, scope, proto, status: int, reason: str, message: str, retry_after: int | None = None) -> None:
        """An answer made here, without the app; the connection is closed after it (its body is unread)."""
        self._refused[reason].inc()
        cid = correlation_id(scope.headers.get("x-correlation-id"))
        payload = json.dumps({"status": "error", "message": message, "correlation_id": cid}).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                   ("X-Correlation-ID", cid), ("Connection", "close")]
        if retry_after is not None:
            headers.append(("Retry-After", str(math.ceil(retry_after))))
        log.info("web: %s %s from %s answered %s (%s)", scope.method, scope.path, client_address(scope.client),
                 status, reason)
        proto.response_bytes(status, headers, payload)

