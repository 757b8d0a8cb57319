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

import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from sqlalchemy import Row

from mutt_app import __version__, config, dynconfig, services
from mutt_app.core import metrics
from mutt_app.storage.models import Alert

DELIVERED, RETRY, PERMANENT = "delivered", "retry", "permanent"
RETRYABLE_STATUSES = frozenset({408, 425, 429})
RETRY_AFTER_STATUSES = frozenset({429, 503})


def _ceiling(key: str) -> int:
    maximum = dynconfig.REGISTRY[key].maximum
    if maximum is None:
        raise TypeError(f"runtime setting {key} has no maximum")
    return int(maximum)


# threads one process may use for concurrent sends: the ceiling of the moog_concurrency setting
MAX_IN_FLIGHT = _ceiling("moog_concurrency")
BODY_START = 500  # characters of a refusal's body kept in the dead letter

MANAGER = "MUTT"
SOURCE = "MUTT Alerter"
AGENT = f"MUTT v{__version__}"
AGENT_LOCATION = "Alerter Service"
TYPES = {"rule": "Alert", "meta": "Unhandled Events"}


def payload(alert: Alert | Row[Any]) -> dict[str, Any]:
    """The Moogsoft event for ``alert`` (an Alert or a row of the alerts table): the same on every
    re-send of the same alert."""
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
            "event": alert.event,
            **(alert.lifecycle or {}),   # alert_id, alert_state, occurrences, flapping
        },
    }


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
    """Sends alerts to one Moogsoft endpoint over reused HTTP connections (urllib3, thread-safe).

    urllib3 rather than requests (which is built on it): requests' per-request work (preparing the
    request, merging the environment, building the response) was half the forwarder's CPU.
    """

    def __init__(self, url: str, api_key: str, timeout: float, verify: bool = True) -> None:
        self.url = url
        self.timeout = timeout
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._headers = {"Content-Type": "application/json", "User-Agent": AGENT}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._http = _connection_pools(url, verify)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def send(self, body: dict[str, Any]) -> Outcome:
        try:
            data = json.dumps(body, allow_nan=False).encode()
        except ValueError as error:  # ingest refuses NaN/Infinity; should one get in, Moogsoft never sees it
            return Outcome(PERMANENT, None, f"not sent: the alert holds a number JSON cannot carry ({error})")
        started = time.monotonic()
        try:
            response = self._http.request("POST", self.url, body=data, headers=self._headers,
                                          timeout=self._timeout, retries=False, redirect=False)
        except urllib3.exceptions.TimeoutError as error:
            metrics.MOOG_REQUESTS.labels("timeout", "error").inc()
            return Outcome(RETRY, None, f"timeout after {self.timeout:g} s ({type(error).__name__})")
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            # Only the exception's class: its text can carry the URL, which may hold credentials.
            metrics.MOOG_REQUESTS.labels("connection", "error").inc()
            return Outcome(RETRY, None, f"no answer from Moogsoft ({type(error).__name__})")
        finally:
            metrics.MOOG_LATENCY.observe(time.monotonic() - started)
        outcome = classify(response.status, response.headers, response.data.decode("utf-8", "replace"))
        metrics.MOOG_REQUESTS.labels(str(response.status), outcome.kind).inc()
        return outcome

    def send_all(self, sends: list[Callable[[], Outcome]]) -> list[Outcome]:
        """Run the callables in ``sends`` (each sends one request) at once; their outcomes in order."""
        if len(sends) == 1:
            return [sends[0]()]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT, thread_name_prefix="moog-send")
        return [future.result() for future in [self._pool.submit(send) for send in sends]]


def _connection_pools(url: str, verify: bool) -> urllib3.PoolManager:
    """Connections to ``url``: through the proxy the environment names for it (``HTTPS_PROXY``,
    ``HTTP_PROXY``, ``NO_PROXY``), checking TLS against ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` or
    certifi's bundle (as requests would). The environment is read once; ``~/.netrc`` never."""
    cert_reqs = "CERT_REQUIRED" if verify else "CERT_NONE"
    ca_certs = (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()) if verify else None
    parts = urlsplit(url)
    proxy = None if urllib.request.proxy_bypass(parts.hostname or "") else urllib.request.getproxies().get(parts.scheme)
    if proxy:
        return urllib3.ProxyManager(proxy, maxsize=MAX_IN_FLIGHT, cert_reqs=cert_reqs, ca_certs=ca_certs)
    return urllib3.PoolManager(maxsize=MAX_IN_FLIGHT, cert_reqs=cert_reqs, ca_certs=ca_certs)


def client() -> MoogClient | None:
    """This process's client for the configured endpoint; None while MOOG_WEBHOOK_URL is empty."""
    settings = config.get()
    if not settings.moog_webhook_url:
        return None
    return services.current().own("moog client", lambda: MoogClient(
        settings.moog_webhook_url, settings.moog_api_key, settings.moog_timeout, settings.moog_verify_tls))
