"""An HTTP server that stands in for Moogsoft's REST LAM, for tests, trials and benchmarks.

It records every event POSTed to it and answers as told: normally 200, or on command a status
(500, 429 with Retry-After, 400 ...), a delay (to provoke timeouts), for the next N requests or
until told otherwise, after M normal answers. Control it over HTTP (``POST /_control``,
``GET /_received``, ``POST /_reset``) or, in the same process, through :class:`MoogStandin`.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A request is stamped when its handler thread gets to run, which on a loaded 2-core machine can
# lag its arrival by tens of milliseconds: allow this much when judging spacing by the stamps.
STAMP_JITTER = 0.1


@dataclass
class Behaviour:
    status: int = 200
    delay: float = 0.0              # seconds to wait before answering
    retry_after: float | None = None
    remaining: int | None = None    # answer like this this many times, then back to 200
    body: str = ""
    after: int = 0                  # answer 200 this many times first


@dataclass
class Received:
    at: float
    body: dict
    headers: dict[str, str]
    status: int                     # what the stand-in answered


@dataclass
class State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    behaviour: Behaviour = field(default_factory=Behaviour)
    received: list[Received] = field(default_factory=list)

    def next_answer(self) -> Behaviour:
        with self.lock:
            current = self.behaviour
            if current.after > 0:
                current.after -= 1
                return Behaviour()
            if current.remaining is not None:
                current.remaining -= 1
                if current.remaining <= 0:
                    self.behaviour = Behaviour()
            return current


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms), which capped a kept-alive connection at ~25 requests/s.
    disable_nagle_algorithm = True
    server: "_Server"

    def log_message(self, *_args) -> None:  # quiet
        pass

    def _json(self, status: int, body, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:  # the sender went away mid-request (a killed worker): nothing arrived
            raise ConnectionAbortedError
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def do_GET(self) -> None:
        state = self.server.state
        if self.path.startswith("/_received"):
            with state.lock:
                items = [{"at": r.at, "status": r.status, "body": r.body} for r in state.received]
            self._json(200, {"count": len(items), "received": items})
        elif self.path.startswith("/health"):
            self._json(200, {"status": "ok"})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        state = self.server.state
        try:
            body = self._body()
        except (ConnectionAbortedError, ConnectionResetError):
            self.close_connection = True
            return
        if self.path.startswith("/_control"):
            with state.lock:
                state.behaviour = Behaviour(**(body or {}))
            self._json(200, {"ok": True})
            return
        if self.path.startswith("/_reset"):
            with state.lock:
                state.behaviour, state.received = Behaviour(), []
            self._json(200, {"ok": True})
            return
        answer = state.next_answer()
        if answer.delay:
            time.sleep(answer.delay)
        with state.lock:
            state.received.append(Received(time.time(), body, dict(self.headers), answer.status))
        headers = {"Retry-After": f"{answer.retry_after:g}"} if answer.retry_after is not None else {}
        self._json(answer.status, {"message": answer.body or ("ok" if answer.status < 300 else "stand-in error")}, headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, state: State) -> None:
        self.state = state
        super().__init__(address, _Handler)


class MoogStandin:
    """The stand-in, run on a background thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.state = State()
        self._server = _Server((host, port), self.state)
        self._scheme = "https" if tls else "http"
        if tls:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moog-standin", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}/events"

    def start(self) -> "MoogStandin":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def behave(self, status: int = 200, *, delay: float = 0.0, retry_after: float | None = None,
               times: int | None = None, body: str = "", after: int = 0) -> None:
        with self.state.lock:
            self.state.behaviour = Behaviour(status, delay, retry_after, times, body, after)

    @property
    def received(self) -> list[Received]:
        with self.state.lock:
            return list(self.state.received)

    def tightest(self, count: int) -> float:
        """The shortest time in which ``count`` requests arrived (infinite when fewer did)."""
        arrivals = sorted(r.at for r in self.received)
        return min((later - earlier for earlier, later in zip(arrivals, arrivals[count - 1:])), default=float("inf"))

    def delivered(self) -> list[dict]:
        """Bodies of the requests answered with a 2xx."""
        return [r.body for r in self.received if 200 <= r.status < 300]


def serve(host: str, port: int) -> None:
    server = _Server((host, port), State())
    try:
        server.serve_forever()
    finally:
        server.server_close()
