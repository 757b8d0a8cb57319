"""End-to-end benchmark: a real stack on this machine, load from a separate process, one table.

Starts PostgreSQL-backed MUTT (granian web, Celery worker processes, beat), a Moogsoft stand-in
process, loads 500 rules (contains, regex, oid_prefix; about 10% of events are forwarded), with
every feature on: the alert lifecycle (clears, de-duplication, flapping), 100 silences in force
(0.5% of the events silenced), 201 heartbeats, the full event audit, the janitor; drives
load from a separate process, waits until every accepted event is accounted for, and prints:
events/s end to end (accepted -> audited/unhandled/dead-lettered -> alerts delivered to the
stand-in, counted at the end points), ingest latency p50/p95/p99, ingest-to-Moog latency
p50/p99, peak RSS of each process, CPU time per event of each part (MUTT's processes, the load
generator, the stand-in, PostgreSQL, Redis: where the time goes), and whether anything was lost.

Modes (run side by side by default):
  batch     100-event batch requests (4 clients)
  single    single-event requests, 16 concurrent clients (coalesced into batches by ingest)
  baseline  single-event requests, but one Celery task per event (ingest_batch_size = 1)

    .venv/bin/python bench/e2e.py                     # all three modes, under 2 minutes
    .venv/bin/python bench/e2e.py --modes single --seconds 30
    .venv/bin/python bench/e2e.py --modes batch,single --rate 500    # latency below capacity
    .venv/bin/python bench/e2e.py --modes batch --set ingest_batch_size=1000  # try a runtime setting
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import psutil
import redis as redis_lib
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from tests.support.processes import Process, free_port, mutt, mutt_env, start_beat, start_standin, wait_http, wait_log  # noqa: E402

RULES = 500
HOSTS = 200
WARM_UP_EVENTS = 1000  # in 20 requests over 2 s: several batches, so every pool process takes some
FORWARD_SHARE, MATCHED_SHARE = 0.10, 0.40  # the rest is unhandled
SILENCED_HOST = "bench-host-7.example.net"  # one host of 200 in maintenance: 0.5 % of events silenced


# ---------------------------------------------------------------- workload
def make_rules() -> list[dict]:
    """500 rules: 200 contains, 150 regex, 150 oid_prefix; every 10th forwards."""
    rules = []
    for i in range(RULES):
        forward = i % 10 == 0
        base = dict(name=f"bench {i}", priority=10 + i, team_assignment=f"team{i % 7}", moog_severity=i % 6,
                    prod_handling="Page_and_ticket" if forward else "Ignore",
                    dev_handling="Ticket_only" if forward else "Ignore")
        if i < 200:
            rules.append(dict(base, match_type="contains", match_string=f"BENCHC{i:03d}-FAIL"))
        elif i < 350:
            rules.append(dict(base, match_type="regex", match_string=rf"BENCHR{i:03d}: port \d+ (up|down)"))
        else:
            rules.append(dict(base, match_type="oid_prefix", trap_oid=f"1.3.6.1.4.1.50000.{i}"))
    return rules


def make_event(rng: random.Random, n: int) -> dict:
    host = f"bench-host-{rng.randrange(HOSTS)}.example.net"
    roll = rng.random()
    event = {"hostname": host, "timestamp": datetime.utcnow().isoformat() + "Z", "syslog_severity": rng.randrange(8)}
    if roll < FORWARD_SHARE + MATCHED_SHARE:
        forward = roll < FORWARD_SHARE
        i = 10 * rng.randrange(RULES // 10) if forward else rng.choice([k for k in range(1, 10)]) + 10 * rng.randrange(RULES // 10)
        if i < 200:
            event["message"] = f"%SYS-3-BENCHC{i:03d}-FAIL: unit {n} reports trouble"
        elif i < 350:
            event["message"] = f"BENCHR{i:03d}: port {n % 48} down"
        else:
            event["message"] = f"trap {n}"
            event["trap_oid"] = f"1.3.6.1.4.1.50000.{i}.{n % 9}"
    else:
        event["message"] = f"%LINK-5-NOISE: interface Gi0/{n % 48} flapped {n} times"
    return event


def make_silences(now: datetime) -> list[dict]:
    """100 maintenance windows in force, as an operator's list looks: one on a bench host, one on
    a forwarding rule's message, one recurring (every day, now within it), 97 on other hosts
    (some narrowed to a message prefix)."""
    window = {"ends_at": (now + timedelta(hours=6)).isoformat()}
    silences = [
        dict(window, matchers=[{"field": "hostname", "op": "=", "value": SILENCED_HOST}], comment="bench: host in maintenance"),
        dict(window, matchers=[{"field": "message", "op": "contains", "value": "BENCHC010-FAIL"}], comment="bench: known fault"),
        {"matchers": [{"field": "hostname", "op": "=~", "value": r"core-\d+\.example\.net"}], "comment": "bench: nightly",
         "starts_at": (now - timedelta(minutes=30)).isoformat(),
         "schedule": {"rrule": "FREQ=DAILY", "duration_seconds": 3600, "time_zone": "UTC"}},
    ]
    for n in range(97):
        matchers = [{"field": "hostname", "op": "=", "value": f"quiet-host-{n}.example.net"}]
        if n % 4 == 0:
            matchers.append({"field": "message", "op": "prefix", "value": "%LINK"})
        silences.append(dict(window, matchers=matchers, comment=f"bench: other host {n}"))
    return silences


def make_heartbeats() -> list[dict]:
    """Every bench host and the bench's API key must be heard from within the hour."""
    beats = [{"hostname": f"bench-host-{n}.example.net"} for n in range(HOSTS)] + [{"source": "bench"}]
    return [dict(beat, interval_seconds=3600, comment="bench: must be heard from") for beat in beats]


# ---------------------------------------------------------------- load (bench/load.py, own process)
def make_requests(url: str, key: str, batch: int) -> list[load.Request]:
    """20,000 events as requests of ``batch`` events, built before the clock starts."""
    rng = random.Random(batch)
    built = []
    for n in range(0, 20_000, batch):
        events = [make_event(rng, n + i) for i in range(batch)]
        body = json.dumps(events[0] if batch == 1 else events).encode()
        built.append(load.request(url, "/api/v2/ingest", key, body, batch))
    return built


# ---------------------------------------------------------------- the stack
class Stack:
    def __init__(self, args, mode: str) -> None:
        self.args, self.mode = args, mode
        self.home = Path(tempfile.mkdtemp(prefix=f"mutt-bench-{mode}-"))
        self.processes: list[Process] = []
        self.redis = redis_lib.Redis.from_url(args.redis_url, decode_responses=True)
        self.engine = create_engine(args.database_url)

    def prepare_database(self) -> None:
        url = make_url(self.args.database_url)
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
        self.redis.flushdb()
        env = self.env()
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "MUTT_HOME", "SECRET_KEY", "MUTT_ENV")})
        from mutt_app import config, dynconfig
        from mutt_app.access import api_keys
        from mutt_app.operations import heartbeats
        from mutt_app.storage import migrate, redis_keys
        from mutt_app.storage.db import session_scope
        from mutt_app.storage.models import Rule
        from mutt_app.suppression import silence_store

        config.reset()
        migrate.upgrade()
        with session_scope() as session:
            session.add_all(Rule(**rule) for rule in make_rules())
            _, self.key = api_keys.create(session, "bench", ["ingest"], actor="bench")
            for silence in make_silences(datetime.now(UTC)):
                silence_store.create(session, silence, actor="bench")
            for beat in make_heartbeats():
                heartbeats.create(session, beat, actor="bench")
            changes = {"moog_rate_limit": 100_000, "ingest_rate_limit": 0, "max_ingest_queue_size": 10_000_000,
                       "alerter_queue_shed_threshold": 10_000_000, "unhandled_threshold": 500}
            changes.update(self.args.settings)
            if self.mode == "baseline":
                changes["ingest_batch_size"] = 1
            for setting, value in changes.items():
                dynconfig.change(session, setting, value, actor="bench")
        self.redis.incr(redis_keys.RULES_VERSION)

    def env(self) -> dict[str, str]:
        return mutt_env(self.args.redis_url, self.args.database_url, self.home, MUTT_ENV="production",
                        MOOG_WEBHOOK_URL=self.standin_url, LOG_LEVEL="INFO",
                        MOOG_API_KEY="bench-moog-key")

    def start(self) -> None:
        standin, self.standin_url = start_standin(dict(os.environ), self.home)
        self.processes.append(standin)
        self.prepare_database()
        env = self.env()
        for name, queues, concurrency in self.args.worker_layout:
            worker = Process(name, mutt("worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}@%h"), env, self.home)
            self.processes.append(worker)
            wait_log(worker, " ready.", timeout=60)
        self.processes.append(start_beat(env, self.home))  # the janitor, heartbeat checks, remediation
        port = free_port()
        web = Process("web", mutt("web", "--port", str(port), "--workers", str(self.args.web_workers)), env, self.home)
        self.processes.append(web)
        self.url = f"http://127.0.0.1:{port}"
        wait_http(self.url + "/health", web)
        # Quiet from here on, as an operator would run a loaded system (applied within a second).
        from mutt_app import dynconfig
        dynconfig.runtime(self.redis).store("log_level", "WARNING")
        time.sleep(1.5)
        self.warm_up()

    def warm_up(self) -> None:
        """A few requests through the whole pipeline before the clock starts (pool processes load
        their rules, connect to PostgreSQL and the stand-in); the run counts from what they left."""
        rng = random.Random("warm-up")
        for n in range(0, WARM_UP_EVENTS, 50):
            events = [make_event(rng, n + i) for i in range(50)]
            requests.post(self.url + "/api/v2/ingest", json=events, headers={"X-API-KEY": self.key},
                          timeout=30).raise_for_status()
            time.sleep(0.1)
        deadline = time.time() + 60
        while time.time() < deadline:
            self.before = self.counts(audit=True)
            if self.before.accepted == WARM_UP_EVENTS and self.before.finished == WARM_UP_EVENTS \
                    and self.before.delivered == self.before.alerts:
                self.requests_before = self.standin_requests()
                return
            time.sleep(0.2)
        raise RuntimeError(f"the warm-up's {WARM_UP_EVENTS} events were not through in 60 s: {self.before}")

    def standin_requests(self) -> int:
        return requests.get(self.standin_url.replace("/events", "/_received"), timeout=60).json()["requests"]

    def counts(self, *, audit: bool = False) -> Counts:
        """Events accepted and accounted for (audited, unhandled, dead-lettered) and alerts
        written and delivered so far, warm-up included; with ``audit``, the audit's rows too
        (0 without: counting them reads the whole audit, which the drain's polling must not,
        as that is PostgreSQL's CPU taken from the stack under measurement)."""
        stats = {k: int(v) for k, v in self.redis.hgetall("mutt:stats").items()}
        finished = stats.get("audited", 0) + stats.get("unhandled", 0) + stats.get("dead_lettered", 0)
        with self.engine.connect() as connection:
            rows = dict(connection.execute(text("SELECT state, count(*) FROM alerts GROUP BY state")).all())
            audit_rows = connection.scalar(text("SELECT count(*) FROM event_audit")) if audit else 0
        return Counts(stats.get("accepted", 0), finished, sum(rows.values()), rows.get("delivered", 0), audit_rows)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout=20)
        self.engine.dispose()


class Counts(NamedTuple):
    accepted: int
    finished: int
    alerts: int
    delivered: int
    audit_rows: int

    def __sub__(self, other: Counts) -> Counts:  # type: ignore[override]
        return Counts(*(mine - theirs for mine, theirs in zip(self, other, strict=True)))


class RssSampler(threading.Thread):
    def __init__(self, processes: list[Process]) -> None:
        super().__init__(daemon=True)
        self.processes, self.peak, self.running = processes, {}, True

    def run(self) -> None:
        while self.running:
            for process in self.processes:
                try:
                    root = psutil.Process(process.pid)
                    tree = [root, *root.children(recursive=True)]
                    biggest = max(p.memory_info().rss for p in tree)
                except psutil.Error:
                    continue
                self.peak[process.name] = max(self.peak.get(process.name, 0), biggest)
            time.sleep(0.5)


def cpu_snapshot(processes: list[Process], generator_pid: int | None = None) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by every process of the run: each stack process with its children,
    the load generator, this benchmark, and this machine's PostgreSQL and Redis servers."""
    groups = {process.pid: process.name for process in processes} | {os.getpid(): "benchmark (counting)"}
    if generator_pid:
        groups[generator_pid] = "load generator"
    seen: dict[int, tuple[str, float]] = {}
    for process in psutil.process_iter(["name"]):
        try:
            name = process.info["name"] or ""
            if name.startswith("postgres"):
                group = "postgresql"
            elif name.startswith("redis-server"):
                group = "redis"
            else:  # the nearest ancestor that is a part of the run
                group = next((groups[p.pid] for p in [process, *process.parents()] if p.pid in groups), None)
            if group:
                times = process.cpu_times()
                seen[process.pid] = (group, times.user + times.system)
        except psutil.Error:
            continue
    return seen


def machine_busy() -> float:
    """CPU seconds this machine has spent on anything but idling."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], busy: float) -> dict[str, float]:
    """CPU seconds per group between two snapshots (a process that started in between counts from
    zero); what the machine was busy with beyond them (kernel, processes that came and went) is
    "elsewhere"."""
    used: dict[str, float] = {}
    for pid, (group, seconds) in after.items():
        used[group] = used.get(group, 0.0) + seconds - before.get(pid, (group, 0.0))[1]
    used["elsewhere"] = max(busy - sum(used.values()), 0.0)
    return used


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def run_mode(args, mode: str) -> dict:
    stack = Stack(args, mode)
    sampler = RssSampler(stack.processes)
    try:  # the stack goes down whatever happens, so a failed run leaves no processes behind
        stack.start()
        sampler.start()
        return measure(args, mode, stack, sampler)
    finally:
        sampler.running = False
        stack.stop()


def measure(args, mode: str, stack: Stack, sampler: RssSampler) -> dict:
    clients, batch = (4, 100) if mode == "batch" else (args.clients, 1)
    seconds = args.seconds if mode != "baseline" else max(args.seconds / 2, 5)
    queue = multiprocessing.Queue()
    prepared = make_requests(stack.url, stack.key, batch)
    started = time.time()
    generator = multiprocessing.Process(target=load.drive, args=(stack.url, prepared, clients, seconds, 0.0, queue, args.rate))
    generator.start()
    cpu_before, busy_before = cpu_snapshot(stack.processes, generator.pid), machine_busy()
    offered = queue.get()
    generator_cpu = {generator.pid: cpu_snapshot(stack.processes, generator.pid)[generator.pid]}  # before it exits
    generator.join()
    load_done = time.time()
    def accounted() -> Counts:
        return stack.counts() - stack.before

    deadline, shown = time.time() + args.drain_timeout, 0.0
    while time.time() < deadline:
        now = accounted()
        if now.accepted == offered.accepted and now.finished == now.accepted and now.delivered == now.alerts:
            break
        if time.time() - shown >= 5:  # which stage is behind: the alerter (processed) or the forwarder (delivered)
            shown = time.time()
            print(f"  {mode} +{shown - started:5.1f} s: processed {now.finished} of {now.accepted} events, "
                  f"delivered {now.delivered} of {now.alerts} alerts", file=sys.stderr, flush=True)
        time.sleep(0.2)
    done = time.time()
    cpu = cpu_used(cpu_before, {**cpu_snapshot(stack.processes), **generator_cpu}, machine_busy() - busy_before)
    accepted, finished, alerts, delivered, audited_rows = stack.counts(audit=True) - stack.before
    with stack.engine.connect() as connection:
        dead = connection.scalar(text("SELECT count(*) FROM dead_letters"))
    at_standin = requests.get(stack.standin_url.replace("/events", "/_received"), timeout=60).json()
    received, to_moog = [], []
    for item in at_standin["received"]:
        event = ((item.get("body") or {}).get("custom_info") or {}).get("event") or {}
        if not event.get("_received_at"):
            continue
        received_at = datetime.fromisoformat(event["_received_at"].replace("Z", "+00:00")).timestamp()
        if received_at >= started:  # not the warm-up's
            received.append(item)
            to_moog.append(item["at"] - received_at)
    to_moog.sort()
    latencies = sorted(offered.latencies)
    return {
        "mode": mode, "clients": clients, "batch": batch, "offered_rate": args.rate, "load_seconds": round(load_done - started, 1),
        "accepted": accepted, "accounted": finished, "audited_rows": audited_rows, "alerts": alerts,
        "delivered": delivered, "received_at_moog": len(received), "moog_requests": at_standin["requests"] - stack.requests_before,
        "dead_letters": dead,
        "e2e_events_per_s": round(accepted / (done - started)) if done > started else 0,
        "ingest_events_per_s": round(offered.accepted / (load_done - started)),
        "ingest_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "ingest_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "ingest_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "moog_p50_ms": round(percentile(to_moog, 0.50) * 1000), "moog_p99_ms": round(percentile(to_moog, 0.99) * 1000),
        "drained": finished == accepted == offered.accepted and delivered == alerts,
        "lost": offered.accepted - finished + (alerts - delivered),
        "peak_rss_mb": {name: round(rss / 2**20) for name, rss in sampler.peak.items()},
        "cpu_us_per_event": {group: round(seconds * 1e6 / max(accepted, 1)) for group, seconds in cpu.items()},
    }


def print_table(results: list[dict]) -> None:
    rows = [
        ("requests", lambda r: f"{r['clients']} clients x {r['batch']} event(s)"
                               + (f", {r['offered_rate']:g}/s offered" if r["offered_rate"] else "")),
        ("events accepted", lambda r: r["accepted"]),
        ("ingest events/s", lambda r: r["ingest_events_per_s"]),
        ("end-to-end events/s", lambda r: r["e2e_events_per_s"]),
        ("ingest p50 / p95 / p99 ms", lambda r: f"{r['ingest_p50_ms']} / {r['ingest_p95_ms']} / {r['ingest_p99_ms']}"),
        ("ingest->Moog p50 / p99 ms", lambda r: f"{r['moog_p50_ms']} / {r['moog_p99_ms']}"),
        ("audit rows / alerts delivered", lambda r: f"{r['audited_rows']} / {r['delivered']} of {r['alerts']}"),
        ("requests to the stand-in", lambda r: r["moog_requests"]),
        ("dead letters", lambda r: r["dead_letters"]),
        ("lost", lambda r: r["lost"] if r["drained"] else f"{r['lost']} (not drained)"),
    ]
    names = sorted({name for r in results for name in r["peak_rss_mb"]})
    rows += [(f"peak RSS {name} MB", (lambda n: lambda r: r["peak_rss_mb"].get(n, "-"))(name)) for name in names]
    groups = sorted({group for r in results for group in r["cpu_us_per_event"]})
    rows += [("CPU µs per event, all", lambda r: sum(r["cpu_us_per_event"].values()))]
    rows += [(f"  {group}", (lambda g: lambda r: r["cpu_us_per_event"].get(g, "-"))(group)) for group in groups]
    width = max(len(label) for label, _ in rows)
    print("\n" + " " * width + "".join(f" | {r['mode']:>24}" for r in results))
    print("-" * (width + 27 * len(results)))
    for label, value in rows:
        print(f"{label:<{width}}" + "".join(f" | {str(value(r)):>24}" for r in results))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="batch,single,baseline")
    parser.add_argument("--seconds", type=float, default=10, help="load duration per mode")
    parser.add_argument("--clients", type=int, default=16, help="concurrent single-event clients")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=120)
    parser.add_argument("--rate", type=float, default=0,
                        help="offer this many events/s in all (paced) instead of as many as MUTT takes: "
                             "latency below capacity")
    parser.add_argument("--redis-url", default=os.environ.get("MUTT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--database-url", default=os.environ.get(
        "MUTT_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/mutt_bench"))
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="SETTING=VALUE",
                        type=lambda text: tuple(text.split("=", 1)),
                        help="a runtime setting for every mode (repeatable), e.g. --set ingest_batch_size=1000")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    args.settings = dict(args.settings)
    args.worker_layout = [("worker-alerts", "alerts", 2), ("worker-moog", "moog", 2), ("worker-ops", "janitor,remediation", 1)]
    results = [run_mode(args, mode.strip()) for mode in args.modes.split(",")]
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["drained"] and r["lost"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
