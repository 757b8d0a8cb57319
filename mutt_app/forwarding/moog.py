"""Moogsoft: the event payload MUTT sends for an alert, the HTTP client, and what an answer means.

Outcomes of one send:

* ``delivered`` — any 2xx.
* ``retry`` — 408, 425, 429, any 5xx, a timeout, no connection. A 429's or 503's ``Retry-After``
  (seconds or an HTTP date) says how long to wait.
* ``permanent`` — anything else (other 4xx, 3xx): Moogsoft will never take this request as it
  is; the alert becomes a dead letter at once with the status and the start of the body.

The API key travels only in the ``Authorization`` header of the live request; it is never part
of the payload, an outcome, a log line or a dead letter.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import certifi
from sqlalchemy import Row

from mutt_app import __version__, config, services
from mutt_app.core import json_bytes, metrics
from mutt_app.storage.models import Alert

# libcurl (pycurl), loaded by the first MoogClient (`_load_libcurl`), not on import: pycurl's wheel
# carries its own OpenSSL, and a process that had both it and Python's (Redis over TLS) loaded
# could abort with a double free as it exited. The worker's main process, web, beat and the
# commands import this module and never send; a pool process that sends ends with os._exit.
pycurl: Any = None


def _load_libcurl() -> None:
    global pycurl
    if pycurl is None:
        import pycurl as libcurl
        pycurl = libcurl


DELIVERED, RETRY, PERMANENT = "delivered", "retry", "permanent"
RETRYABLE_STATUSES = frozenset({408, 425, 429})
RETRY_AFTER_STATUSES = frozenset({429, 503})


BODY_START = 500  # characters of a refusal's body kept in the dead letter

MANAGER = "MUTT"
SOURCE = "MUTT Alerter"
AGENT = f"MUTT v{__version__}"
AGENT_LOCATION = "Alerter Service"
TYPES = {"rule": "Alert", "meta": "Unhandled Events"}


def payload(alert: Alert | Row[Any]) -> dict[str, Any]:
    """The Moogsoft event for ``alert`` (an Alert or a row of the alerts table): the same on every
    re-send of the same alert. A claimed row's JSON documents may be JSON text (``outbox.claim``
    on PostgreSQL): the event then goes into the body as it is (``json_bytes.Raw``)."""
    event_time = alert.event_time or alert.created_at
    return {
        "signature": alert.signature,
        "source_id": alert.hostname,
        "external_id": alert.id,
        "manager": MANAGER,
        "source": SOURCE,
        "agent": AGENT,
        "agent_location": AGENT_LOCATION,
        "type": TYPES.get(alert.kind, "Alert"),
        "class": alert.team,
        "severity": min(max(int(alert.severity), 0), 5),
        "description": alert.description,
        "agent_time": int(_utc(event_time).timestamp()) if event_time else int(time.time()),
        "custom_info": {
            "decision": alert.decision,
            "environment": alert.environment,
            "rule_id": alert.rule_id,
            "rule_name": alert.rule_name,
            "correlation_id": alert.correlation_id,
            "alert_kind": alert.kind,
            "event": json_bytes.Raw(alert.event) if isinstance(alert.event, str) else alert.event,
            **_parsed(alert.lifecycle),   # alert_id, alert_state, occurrences, flapping
        },
    }


def _parsed(document: str | dict[str, Any] | None) -> dict[str, Any]:
    return json.loads(document) if isinstance(document, str) else document or {}


def request_body(alerts: Sequence[Alert | Row[Any]]) -> dict[str, Any]:
    """What one request to Moogsoft carries: one alert's event as it is (v2.5's format), several
    as ``{"events": [...]}``, the list form of Moogsoft's REST LAM."""
    if len(alerts) == 1:
        return payload(alerts[0])
    return {"events": [payload(alert) for alert in alerts]}


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Outcome:
    kind: str                        # delivered | retry | permanent
    status: int | None = None        # HTTP status, None when no answer came
    error: str = ""                  # what went wrong, for the alert row and dead letter
    retry_after: float | None = None  # seconds Moogsoft asked us to wait (429/503)

    @property
    def moog_answered(self) -> bool:
        """Moogsoft is up (for the circuit breaker): it delivered or refused this one alert."""
        return self.kind != RETRY


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:
            return None
        seconds = _utc(moment).timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, inf
        return None
    return max(seconds, 0.0)


def classify(status: int, headers: Mapping[str, str] | None = None, body: str = "") -> Outcome:
    """What an HTTP answer means for the alert that was sent."""
    if 200 <= status < 300:
        return Outcome(DELIVERED, status)
    error = f"HTTP {status}: {body[:BODY_START]}".rstrip(": ")
    if status in RETRYABLE_STATUSES or 500 <= status < 600:
        retry_after = None
        if status in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after((headers or {}).get("Retry-After"))
        return Outcome(RETRY, status, error, retry_after)
    return Outcome(PERMANENT, status, error)


class MoogClient:
    """Sends alerts to one Moogsoft endpoint over reused connections, with libcurl (pycurl).

    Several requests go at once from the calling thread (libcurl's multi interface), no thread
    per request; each thread keeps its own handles and connections, so a client may be shared.
    libcurl rather than urllib3 (ADR 0019): urllib3's per-request work in Python was about 210 µs
    of CPU, libcurl's about 50.
    """

    def __init__(self, url: str, api_key: str, timeout: float, verify: bool = True) -> None:
        _load_libcurl()
        self.url = url
        self.timeout = timeout
        headers = ["Content-Type: application/json", f"User-Agent: {AGENT}", "Expect:"]
        if api_key:
            headers.append(f"Authorization: Bearer {api_key}")
        self._options = _curl_options(url, headers, timeout, verify)
        self._local = threading.local()

    def send(self, body: dict[str, Any]) -> Outcome:
        return self.send_all([body])[0]

    def send_all(self, bodies: list[dict[str, Any]]) -> list[Outcome]:
        """Send each body as one request, all at once; their outcomes, in order."""
        outcomes: list[Outcome | None] = [None] * len(bodies)
        transfers: dict[int, _Transfer] = {}
        free = self._transfers(len(bodies))
        for n, body in enumerate(bodies):
            try:
                data = json_bytes.encode(body)
            except ValueError as error:  # NaN in a document orjson could not encode: Moogsoft never sees it
                outcomes[n] = Outcome(PERMANENT, None, f"not sent: the alert holds a number JSON cannot carry ({error})")
                continue
            transfers[n] = free.pop().start(data)
        self._perform(list(transfers.values()))
        counts: Counter[tuple[str, str]] = Counter()
        for n, transfer in transfers.items():
            outcomes[n], counted_as = transfer.outcome(self.timeout)
            counts[counted_as] += 1
        for labels, count in counts.items():  # one update per kind of answer, not per request
            metrics.MOOG_REQUESTS.labels(*labels).inc(count)
        return [outcome for outcome in outcomes if outcome is not None]

    def _perform(self, transfers: list[_Transfer]) -> None:
        """Run the transfers to their end: an answer, an error, or libcurl's timeout."""
        multi = self._state().multi
        for transfer in transfers:
            multi.add_handle(transfer.handle)
        try:
            running = len(transfers)
            while running:
                status, running = multi.perform()
                if status == pycurl.E_CALL_MULTI_PERFORM:
                    continue
                if running:
                    multi.select(1.0)
            while True:
                queued, finished, failed = multi.info_read()
                for handle in finished:
                    handle.transfer.error = None
                for handle, code, _message in failed:  # the message can hold the URL: only the code is kept
                    handle.transfer.error = code
                if not queued:
                    break
        finally:
            for transfer in transfers:
                multi.remove_handle(transfer.handle)

    def _transfers(self, count: int) -> list[_Transfer]:
        """``count`` idle transfers of this thread (made as needed, kept for their connections)."""
        state = self._state()
        while len(state.transfers) < count:
            state.transfers.append(_Transfer(self._options))
        transfers: list[_Transfer] = state.transfers[:count]
        return transfers

    def _state(self) -> Any:
        """This thread's multi handle and transfers; a forked child makes its own."""
        state = self._local
        if getattr(state, "pid", None) != os.getpid():
            state.pid, state.multi, state.transfers = os.getpid(), pycurl.CurlMulti(), []
        return state


class _Transfer:
    """One reusable libcurl handle and what its current request brought back."""

    def __init__(self, options: list[tuple[int, Any]]) -> None:
        self.handle = pycurl.Curl()
        self.handle.transfer = self  # multi.info_read gives back handles
        for option, value in options:
            self.handle.setopt(option, value)
        self.handle.setopt(pycurl.WRITEFUNCTION, self._body_part)
        self.handle.setopt(pycurl.HEADERFUNCTION, self._header_line)
        self.error: int | None = None
        self._body = bytearray()
        self._headers: dict[str, str] = {}

    def start(self, data: bytes) -> _Transfer:
        self.handle.setopt(pycurl.POSTFIELDS, data)
        self.error, self._body, self._headers = None, bytearray(), {}
        return self

    def outcome(self, timeout: float) -> tuple[Outcome, tuple[str, str]]:
        """What the request came to, and its labels in the requests metric."""
        metrics.MOOG_LATENCY.observe(self.handle.getinfo(pycurl.TOTAL_TIME))
        if self.error == pycurl.E_OPERATION_TIMEDOUT:
            return Outcome(RETRY, None, f"timeout after {timeout:g} s"), ("timeout", "error")
        if self.error is not None:
            error = _curl_error_names().get(self.error, self.error)
            return Outcome(RETRY, None, f"no answer from Moogsoft ({error})"), ("connection", "error")
        status = self.handle.getinfo(pycurl.RESPONSE_CODE)
        outcome = classify(status, self._headers, self._body.decode("utf-8", "replace"))
        return outcome, (str(status), outcome.kind)

    def _body_part(self, data: bytes) -> None:
        if len(self._body) < BODY_READ:  # enough for the dead letter; the rest is read and dropped
            self._body += data

    def _header_line(self, line: bytes) -> None:
        if line.startswith(b"HTTP/"):  # a new answer (after a 100 Continue, or through a proxy): its own headers
            self._headers = {}
        name, colon, value = line.decode("latin-1").partition(":")
        if colon:
            self._headers[name.strip().title()] = value.strip()


BODY_READ = 4 * BODY_START  # bytes of an answer's body kept (UTF-8: up to 4 bytes a character)


@functools.cache
def _curl_error_names() -> dict[int, str]:
    """libcurl's error codes by name, for outcomes (its messages can hold the URL and its
    credentials); a code with several names (renamed over the years) gets them all."""
    names: dict[int, list[str]] = {}
    for name, code in vars(pycurl).items():
        if name.startswith("E_") and not name.startswith("E_MULTI"):
            names.setdefault(code, []).append(name.removeprefix("E_"))
    return {code: "curl: " + "/".join(sorted(found)) for code, found in names.items()}


def _curl_options(url: str, headers: list[str], timeout: float, verify: bool) -> list[tuple[int, Any]]:
    """libcurl's options for every request to ``url``: through the proxy the environment names for
    it (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``, as Python reads them), checking TLS against
    ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` or certifi's bundle (as requests would); no redirect,
    no ``~/.netrc``, HTTP(S) only. The environment is read once. A request takes at most twice
    ``timeout``: connecting, then the answer."""
    parts = urlsplit(url)
    proxy = None if urllib.request.proxy_bypass(parts.hostname or "") else urllib.request.getproxies().get(parts.scheme)
    options: list[tuple[int, Any]] = [
        (pycurl.URL, url),
        (pycurl.POST, 1),
        (pycurl.HTTPHEADER, headers),
        (pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS),
        (pycurl.FOLLOWLOCATION, 0),
        (pycurl.NETRC, pycurl.NETRC_IGNORED),
        (pycurl.PROXY, proxy or ""),  # "": no proxy, whatever libcurl's own reading of the environment
        (pycurl.NOPROXY, ""),
        (pycurl.CONNECTTIMEOUT_MS, max(1, int(timeout * 1000))),
        (pycurl.TIMEOUT_MS, max(1, int(2 * timeout * 1000))),
        (pycurl.NOSIGNAL, 1),
    ]
    if verify:
        ca_certs = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
        options += [(pycurl.CAINFO, ca_certs), (pycurl.SSL_VERIFYPEER, 1), (pycurl.SSL_VERIFYHOST, 2)]
    else:
        options += [(pycurl.SSL_VERIFYPEER, 0), (pycurl.SSL_VERIFYHOST, 0)]
    return options


def client() -> MoogClient | None:
    """This process's client for the configured endpoint; None while MOOG_WEBHOOK_URL is empty."""
    settings = config.get()
    if not settings.moog_webhook_url:
        return None
    return services.current().own("moog client", lambda: MoogClient(
        settings.moog_webhook_url, settings.moog_api_key, settings.moog_timeout, settings.moog_verify_tls))
