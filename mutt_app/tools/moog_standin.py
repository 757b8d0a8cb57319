"""An HTTP server that stands in for Moogsoft's REST LAM, for tests, trials and benchmarks.

It records every event POSTed to it (one per request, or several as ``{"events": [...]}``) and
answers as told: normally 200, or on command a status (500, 429 with Retry-After, 400 ...), a delay
(to provoke timeouts), for the next N requests or until told otherwise, after M normal answers; or
400 to any request holding an event that contains a given text (``refuse``). Control it over HTTP
(``POST /_control``, ``GET /_received``, ``POST /_reset``) or, in the same process, through
:class:`MoogStandin`.
`mutt moog-standin` serves it under granian, whose HTTP in Rust keeps the stand-in's share of a
benchmark machine's CPU small (real Moogsoft runs elsewhere).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
    refuse: str = ""                # answer 400 to a request with an event whose JSON contains this


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
    received: list[Received] = field(default_factory=list)  # one per event, in the order they came
    requests: int = 0

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


def answer(state: State, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
    """What the stand-in answers a request (status, JSON body, extra headers): the one place for
    both servers, the in-process one for tests and the granian one of `mutt moog-standin`."""
    if method == "GET":
        if path.startswith("/_received"):
            with state.lock:
                items = [{"at": r.at, "status": r.status, "body": r.body} for r in state.received]
            return 200, {"count": len(items), "requests": state.requests, "received": items}, {}
        if path.startswith("/health"):
            return 200, {"status": "ok"}, {}
        return 404, {"error": "not found"}, {}
    if method != "POST":
        return 405, {"error": "use GET or POST"}, {"Allow": "GET, POST"}
    if path.startswith("/_control"):
        with state.lock:
            state.behaviour = Behaviour(**(body or {}))
        return 200, {"ok": True}, {}
    if path.startswith("/_reset"):
        with state.lock:
            state.behaviour, state.received, state.requests = Behaviour(), [], 0
        return 200, {"ok": True}, {}
    events = body["events"] if isinstance(body, dict) and isinstance(body.get("events"), list) else [body]
    behaviour = state.next_answer()
    status = behaviour.status
    if behaviour.refuse and any(behaviour.refuse in json.dumps(event) for event in events):
        status = 400
    if behaviour.delay:
        time.sleep(behaviour.delay)
    at = time.time()
    with state.lock:
        state.received += [Received(at, event, headers, status) for event in events]
        state.requests += 1
    extra = {"Retry-After": f"{behaviour.retry_after:g}"} if behaviour.retry_after is not None else {}
    message = behaviour.body or ("ok" if status < 300 else "stand-in error")
    return status, {"message": message}, extra


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


class StandinApp:
    """The stand-in as a WSGI app (``app`` below is what `mutt moog-standin` serves under granian)."""

    def __init__(self, state: State) -> None:
        self.state = state

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        if len(raw) < length:  # the sender went away mid-request (a killed worker): nothing arrived
            start_response("400 Bad Request", [("Content-Length", "0")])
            return [b""]
        headers = {name[5:].replace("_", "-").title(): value for name, value in environ.items() if name.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        status, payload, extra = answer(self.state, environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), headers,
                                        _json_or_none(raw))
        data = json.dumps(payload).encode()
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *extra.items()])
        return [data]


app = StandinApp(State())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms), which capped a kept-alive connection at ~25 requests/s.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, *_args) -> None:  # quiet
        pass

    def _answer(self, body: Any) -> None:
        status, payload, extra = answer(self.server.state, self.command, self.path, dict(self.headers), body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            raw = self.rfile.read(length) if length else b""
        except (ConnectionAbortedError, ConnectionResetError):
            raw = b""
        if len(raw) < length:  # the sender went away mid-request (a killed worker): nothing arrived
            self.close_connection = True
            return
        self._answer(_json_or_none(raw))


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
        host, port = self._server.socket.getsockname()[:2]
        return f"{self._scheme}://{host}:{port}/events"

    def start(self) -> MoogStandin:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def behave(self, status: int = 200, *, delay: float = 0.0, retry_after: float | None = None,
               times: int | None = None, body: str = "", after: int = 0, refuse: str = "") -> None:
        with self.state.lock:
            self.state.behaviour = Behaviour(status, delay, retry_after, times, body, after, refuse)

    @property
    def received(self) -> list[Received]:
        with self.state.lock:
            return list(self.state.received)

    def tightest(self, count: int) -> float:
        """The shortest time in which ``count`` events arrived (infinite when fewer did)."""
        arrivals = sorted(r.at for r in self.received)
        return min((later - earlier for earlier, later in zip(arrivals, arrivals[count - 1:], strict=False)), default=float("inf"))

    def delivered(self) -> list[dict]:
        """The events answered with a 2xx."""
        return [r.body for r in self.received if 200 <= r.status < 300]


