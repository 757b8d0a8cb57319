"""Ingest throughput and latency: single-event requests from concurrent clients, and batches.

    python bench/ingest.py                      # starts `mutt web` (granian) on a scratch Redis DB
    python bench/ingest.py --url http://host:8080 --key mutt_...   # drives a running MUTT

Without --url it starts `mutt web` (``--workers`` processes, default 2) against ``--redis-url``
(default redis://127.0.0.1:6379/14, flushed before and after) and a scratch SQLite database,
creates an ingest API key, and turns the per-key rate limit off. The load comes from a separate
process (bench/load.py: asyncio, HTTP/1.1 keep-alive connections), so the client does not share
the server's GIL.
No alerter runs: the numbers are for ingest alone. A third row ("server ceiling") serves a
handler that does nothing under the same server settings: what the server and the client alone
reach on this machine at this moment. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402


def baseline_app(environ, start_response):
    """The cheapest possible answer under the same server settings: the server's own ceiling."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    body = b'{"status": "queued"}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def baseline_front():
    """``baseline_app`` behind `mutt web`'s front layer (web/front.py), with its settings."""
    from mutt_app import config
    from web.front import Front

    return Front(baseline_app, threads=int(config.env("WEB_THREADS")), body_timeout=float(config.env("WEB_BODY_TIMEOUT")),
                 per_client=int(config.env("WEB_MAX_REQUESTS_PER_CLIENT")), max_body=int(config.env("MAX_CONTENT_LENGTH")))


def start_baseline(workers: int):
    """``baseline_app`` served as `mutt web` serves MUTT (server command and front layer); returns (Popen, url)."""
    import subprocess

    from mutt_app.cli.run import web_server_command
    from tests.support.processes import free_port, wait_until

    port = free_port()
    process = subprocess.Popen(web_server_command("ingest:baseline_front", "127.0.0.1", port, workers) + ["--factory"],
                               cwd=ROOT / "bench", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])))

    def answers() -> bool:
        try:
            import socket

            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    wait_until(answers, timeout=30, message="baseline server listening")
    return process, f"http://127.0.0.1:{port}"


def event(i: int) -> dict:
    return {
        "hostname": f"bench-host-{i % 50:02d}.example.com",
        "timestamp": "2025-11-11T16:34:39.7110083Z",
        "message": f"%LINEPROTO-5-UPDOWN: Line protocol on Interface Gi0/{i % 48}, changed state to down",
        "syslog_severity": "notice",
        "source_type": "cisco-ios",
    }


def server_cpu_seconds(pid: int | None) -> float | None:
    """User+system CPU of a process and its children (the server's main process and workers), Linux only."""
    if pid is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid] + ([int(p) for p in children.read_text().split()] if children.exists() else [])
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run_scenario(name: str, url: str, key: str, events_per_request: int, clients: int, seconds: float,
                 warmup: float, server_pid: int | None = None) -> dict:
    if events_per_request == 1:
        bodies = [json.dumps(event(i)).encode() for i in range(200)]
    else:
        bodies = [json.dumps([event(j) for j in range(i, i + events_per_request)]).encode() for i in range(20)]
    requests = [load.request(url, "/api/v2/ingest", key, body, events_per_request) for body in bodies]
    out: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=load.drive, args=(url, requests, clients, seconds, warmup, out))
    process.start()
    time.sleep(warmup)
    cpu_before = server_cpu_seconds(server_pid)
    result = out.get()
    cpu_after = server_cpu_seconds(server_pid)
    process.join()
    latencies, statuses = sorted(result.latencies), result.statuses
    ok = statuses.get(200, 0)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else float("nan")

    return {
        "scenario": name, "clients": clients, "requests": len(latencies),
        "events_per_s": ok * events_per_request / seconds, "p50_ms": pct(0.50), "p95_ms": pct(0.95),
        "p99_ms": pct(0.99), "non_200": sum(v for k, v in statuses.items() if k != 200),
        "server_cpu_us_per_event": (cpu_after - cpu_before) * 1e6 / max(1, ok * events_per_request)
        if cpu_before is not None else float("nan"),
    }


def print_table(rows: list[dict]) -> None:
    print(f"{'scenario':16} {'clients':>7} {'requests':>9} {'events/s':>9} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'non-200':>7} {'server CPU µs/event':>20}")
    for row in rows:
        print(f"{row['scenario']:16} {row['clients']:>7} {row['requests']:>9} {row['events_per_s']:>9.0f} "
              f"{row['p50_ms']:>7.2f} {row['p95_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['non_200']:>7} "
              f"{row['server_cpu_us_per_event']:>20.0f}")


def start_mutt(redis_url: str, workers: int, home: Path):
    """`mutt web` on a flushed Redis DB and a fresh SQLite file; returns (process, url, key)."""
    import redis

    from tests.support.processes import mutt_env, start_web

    redis.Redis.from_url(redis_url).flushdb()
    env = mutt_env(redis_url, f"sqlite:///{home / 'bench.db'}", home, LOG_LEVEL="WARNING")
    os.environ.update(env)
    from mutt_app import config, dynconfig
    from mutt_app.access import api_keys
    from mutt_app.storage import migrate
    from mutt_app.storage.db import session_scope

    config.reset()
    migrate.upgrade()
    with session_scope() as session:
        _, key = api_keys.create(session, "bench", ["ingest"], actor="bench")
        dynconfig.change(session, "ingest_rate_limit", 0, actor="bench", reason="measure ingest, not the limiter")
        dynconfig.change(session, "max_ingest_queue_size", 100_000_000, actor="bench", reason="no alerter runs")
    process, url = start_web(env, home, workers=workers)
    return process, url, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running MUTT to drive (else one is started)")
    parser.add_argument("--key", help="ingest API key for --url")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="scratch Redis DB (flushed)")
    parser.add_argument("--workers", type=int, default=2, help="web server processes when starting MUTT")
    parser.add_argument("--clients", type=int, default=16, help="concurrent single-event clients")
    parser.add_argument("--batch-clients", type=int, default=4, help="concurrent batch clients")
    parser.add_argument("--batch-size", type=int, default=100, help="events per batch request")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each scenario")
    args = parser.parse_args()

    process = None
    load_before = os.getloadavg()[0]
    home = Path(tempfile.mkdtemp(prefix="mutt-bench-"))
    try:
        if args.url:
            if not args.key:
                parser.error("--url needs --key")
            url, key = args.url.rstrip("/"), args.key
        else:
            process, url, key = start_mutt(args.redis_url, args.workers, home)
        pid = process.pid if process is not None else None
        rows = [
            run_scenario("single event", url, key, 1, args.clients, args.seconds, args.warmup, pid),
            run_scenario(f"batch of {args.batch_size}", url, key, args.batch_size, args.batch_clients,
                         args.seconds, args.warmup, pid),
        ]
        if process is not None:
            baseline, baseline_url = start_baseline(args.workers)
            try:
                rows.append(run_scenario("server ceiling", baseline_url, key, 1, args.clients, args.seconds,
                                         args.warmup, baseline.pid))
            finally:
                baseline.terminate()
                baseline.wait(10)
        print(f"MUTT ingest at {url}, {os.cpu_count()} CPUs, load average before {load_before:.1f}, "
              f"after {os.getloadavg()[0]:.1f}")
        print_table(rows)
    finally:
        if process is not None:
            process.stop()
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()


if __name__ == "__main__":
    main()
