"""Heartbeats benchmark: what recording "heard from" costs the alerter per event, and what one run
of the checker costs, with N heartbeats watched (default 10,000).

Recording: batches of --batch events (hostnames drawn from --hosts distinct devices, half of them
watched), each handed to ``Recorder.seen`` as the alerter does: one Lua call per batch. The
checker: one run with nothing due, one re-baseline, and one run in which --quiet sources fall
quiet (alerts written to PostgreSQL, not forwarded).

    MUTT_TEST_REDIS_URL=redis://127.0.0.1:6379/3 \\
    MUTT_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/mutt_bench \\
    .venv/bin/python bench/heartbeats.py --heartbeats 10000 --batch 500
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heartbeats", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="events per alerter batch")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=20_000, help="distinct hostnames the events come from")
    parser.add_argument("--quiet", type=int, default=100, help="sources that fall quiet in the last checker run")
    args = parser.parse_args()

    from tests.support import services

    redis_url = os.environ.get("MUTT_TEST_REDIS_URL", services.DEFAULT_REDIS_URL)
    database_url = services.postgres_url()
    if database_url is None:
        sys.exit("PostgreSQL is needed (MUTT_TEST_DATABASE_URL)")
    os.environ.update(MUTT_ENV="test", REDIS_URL=redis_url, DATABASE_URL=database_url, LOG_FORMAT="text",
                      MUTT_HOME=tempfile.mkdtemp(prefix="mutt-bench-heartbeats-"))

    from sqlalchemy import text

    from mutt_app.operations import heartbeats
    from mutt_app.storage import db, migrate, redis_client, redis_keys
    from mutt_app.storage.models import Base, Heartbeat
    from tests.support.clock import StoppedClock

    migrate.upgrade(database_url)
    client = redis_client.get(redis_url)
    client.flushdb()
    with db.engine(database_url).begin() as connection:
        connection.execute(text("TRUNCATE " + ", ".join(t.name for t in Base.metadata.sorted_tables)))
    with db.session_scope() as session:
        session.add_all(Heartbeat(kind="hostname", name=f"host-{n}", interval_seconds=60, severity=4, comment="bench")
                        for n in range(args.heartbeats))
    clock = StoppedClock()

    def run_checker() -> tuple[float, heartbeats.Report]:
        started = time.perf_counter()
        with db.session_scope() as session:
            report = heartbeats.check(session, client, team="NETO", alert_lease_seconds=45, clock=clock)
        return time.perf_counter() - started, report

    first, _ = run_checker()  # syncs the watch list from the database and baselines
    print(f"heartbeats watched: {client.hlen(redis_keys.HEARTBEATS_WATCHED)}; first run (sync + baseline) {first * 1000:.0f} ms")

    recorder = heartbeats.Recorder(client)
    rng = random.Random(7)
    batches = [[{"hostname": f"host-{rng.randrange(args.hosts)}", "_key": "rsyslog-dc1"} for _ in range(args.batch)]
               for _ in range(args.batches)]
    timings = []
    for batch in batches:
        started = time.perf_counter()
        recorder.seen(batch)
        timings.append(time.perf_counter() - started)
    per_batch = statistics.median(timings)
    print(f"recording: {args.batches} batches of {args.batch} events ({args.hosts} hosts, {args.heartbeats} watched): "
          f"median {per_batch * 1000:.2f} ms per batch = {per_batch / args.batch * 1e6:.2f} us per event")

    clock.advance(heartbeats.CHECK_EVERY)
    idle, report = run_checker()
    print(f"checker, nothing due: {idle * 1000:.1f} ms (raised {len(report.raised)})")
    clock.advance(3600)
    rebaseline, report = run_checker()
    print(f"checker, re-baseline of {args.heartbeats}: {rebaseline * 1000:.1f} ms (rebaselined {report.rebaselined})")
    client.zadd(redis_keys.HEARTBEATS_DUE, {f"hostname:host-{n}": clock.now_ms for n in range(args.quiet)})
    clock.advance(1)
    raising, report = run_checker()
    print(f"checker, {args.quiet} fall quiet: {raising * 1000:.1f} ms (raised {len(report.raised)})")


if __name__ == "__main__":
    main()
