"""Test traffic for an ingest URL: `mutt send` (v2.5's mutt_event_sender and flood_ingest).

Events come from a file (a JSON array, one object, or NDJSON; a byte-order mark is fine) or are
made up; they are posted one per request or in batches, at a steady rate, from several threads.
The API key goes in the X-API-KEY header only and is never printed.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from mutt_app.ingest.events import ndjson_lines

REFUSED = (429, 503)  # MUTT is busy: the sender should retry later


def load_events(path: Path) -> list[Any]:
    """The events in a JSON (array or object) or NDJSON file."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        lines = ndjson_lines(text)
        try:
            return [json.loads(line) for line in lines]
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: neither JSON nor NDJSON ({error})") from None
    events = document if isinstance(document, list) else [document]
    if not events:
        raise ValueError(f"{path}: no events in it")
    return events


def made_up_events(message: str, hostname: str | None, severity: int) -> Iterator[dict]:
    """Endless made-up syslog events, numbered."""
    hostname = hostname or socket.getfqdn()
    for number in itertools.count(1):
        yield {
            "hostname": hostname,
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "message": message.replace("{n}", str(number)),
            "syslog_severity": severity,
            "source_type": "mutt-send",
        }


def _milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


@dataclass
class Report:
    events: int = 0
    requests: int = 0
    accepted: int = 0
    rejected: int = 0        # refused one by one as invalid (4xx, or listed in a batch answer)
    refused: int = 0         # in requests answered 429/503: not taken, send again later
    failed: int = 0          # in requests with no answer (connection error, timeout)
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def percentile(self, p: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    def as_dict(self) -> dict:
        return {
            "events": self.events, "requests": self.requests, "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events / self.seconds, 1) if self.seconds else None,
            "accepted": self.accepted, "rejected": self.rejected, "refused": self.refused, "failed": self.failed,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "latency_ms": {f"p{p}": _milliseconds(self.percentile(p)) for p in (50, 90, 99, 100)},
            "errors": dict(self.errors.most_common(5)),
        }


def _count(report: Report, size: int, status: int | None, body: Any, error: str = "") -> None:
    report.requests += 1
    report.events += size
    if status is None:
        report.failed += size
        report.errors[error] += 1
        return
    report.statuses[status] += 1
    if status == 200:
        rejected = len(body.get("rejected", [])) if isinstance(body, dict) else 0
        report.accepted += body.get("accepted", size - rejected) if isinstance(body, dict) else size
        report.rejected += rejected
    elif status in REFUSED:
        report.refused += size
    else:
        report.rejected += size
        message = body.get("error") or body.get("message") if isinstance(body, dict) else None
        report.errors[f"{status}: {message or 'no message'}"[:200]] += 1


def send(url: str, key: str, events: list[Any], *, batch: int = 1, rate: float = 0, concurrency: int = 4,
         timeout: float = 10, progress=None) -> Report:
    """Post ``events`` (``batch`` per request; a JSON array when batch > 1) at ``rate`` events/s
    (0: as fast as the threads go). ``progress(report)`` is called about once a second."""
    chunks = [events[i:i + batch] for i in range(0, len(events), batch)]
    report = Report()
    lock = threading.Lock()
    next_chunk = itertools.count()
    local = threading.local()
    started = time.monotonic()
    last_progress = [started]

    def worker() -> None:
        local.session = requests.Session()
        local.session.headers.update({"X-API-KEY": key, "Content-Type": "application/json",
                                      "User-Agent": "mutt-send"})
        while True:
            with lock:
                index = next(next_chunk)
            if index >= len(chunks):
                return
            chunk = chunks[index]
            if rate:
                delay = started + index * batch / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            body = json.dumps(chunk if batch > 1 else chunk[0])
            sent = time.monotonic()
            try:
                response = local.session.post(url, data=body, timeout=timeout)
                elapsed = time.monotonic() - sent
                try:
                    answer = response.json()
                except ValueError:
                    answer = None
                outcome = (response.status_code, answer, "")
            except requests.RequestException as error:
                elapsed, outcome = None, (None, None, type(error).__name__)
            with lock:
                _count(report, len(chunk), *outcome)
                if elapsed is not None:
                    report.latencies.append(elapsed)
                if progress and time.monotonic() - last_progress[0] >= 1:
                    last_progress[0] = time.monotonic()
                    report.seconds = last_progress[0] - started
                    progress(report)

    threads = max(1, min(concurrency, len(chunks)))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    report.seconds = time.monotonic() - started
    return report
