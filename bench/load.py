"""Load for the benchmarks: HTTP/1.1 keep-alive clients on asyncio, in a process of their own.

Every request is built before the clock starts, so the load generator spends its CPU on sockets
rather than on JSON: on a 2-core machine that also runs MUTT, each microsecond it spends is one
MUTT does not get (bench/e2e.py reports how much it took).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    data: bytes      # the whole HTTP request
    events: int      # events in its body


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)   # seconds, after the warm-up
    statuses: dict[int, int] = field(default_factory=dict)
    accepted: int = 0                                      # events the answers said were queued


def request(url: str, path: str, key: str, body: bytes, events: int) -> Request:
    parts = urlsplit(url)
    head = (f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nX-API-KEY: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return Request(head.encode() + body, events)


async def _client(host: str, port: int, requests: list[Request], first: int, until: float, warmup_until: float,
                  interval: float, delay: float, result: Result) -> None:
    """Send ``requests`` round-robin from ``first`` until ``until``: back to back, or, after
    ``delay``, one every ``interval`` seconds (paced load, for latency below capacity)."""
    reader, writer = await asyncio.open_connection(host, port)
    i = first
    next_at = time.perf_counter() + delay
    while True:
        if interval:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += interval
        now = time.perf_counter()
        if now >= until:
            break
        sent = requests[i % len(requests)]
        i += 1
        writer.write(sent.data)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await reader.readexactly(length)
        status = int(status_line.split()[1])
        if now >= warmup_until:
            result.latencies.append(time.perf_counter() - now)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status == 200:
                result.accepted += sent.events if sent.events == 1 else json.loads(body)["accepted"]
    writer.close()


def drive(url: str, requests: list[Request], clients: int, seconds: float, warmup: float, out: multiprocessing.Queue,
          rate: float = 0.0) -> None:
    """Run in a process of its own: ``clients`` connections, each starting at its own place in
    ``requests``; with ``rate``, events per second offered in all. Puts a :class:`Result` on ``out``."""
    parts = urlsplit(url)
    result = Result()
    events_per_request = sum(r.events for r in requests) / len(requests)
    interval = clients * events_per_request / rate if rate else 0.0

    async def main() -> None:
        start = time.perf_counter()
        await asyncio.gather(*(
            _client(parts.hostname, parts.port or 80, requests, n * len(requests) // clients,
                    start + warmup + seconds, start + warmup, interval, n / clients * interval, result)
            for n in range(clients)  # each at its own place in the requests; paced ones out of step
        ))

    asyncio.run(main())
    out.put(result)
