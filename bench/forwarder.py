"""Forwarder benchmark: alerts/s from the outbox to a Moogsoft stand-in, through a real worker.

Inserts N pending alerts into PostgreSQL, enqueues them in batches (`--per-task`, default 100) with
`mutt_app.handoff.forward_alerts`, and times until every one is `delivered`, counting at the
stand-in too (which runs in this process), and the worker's CPU per alert (its main process and
pool processes, from the first enqueue to the last delivery: MUTT's cost of a delivery), and
PostgreSQL's CPU per alert over the same time. The worker first delivers `--warm-up` alerts off
the clock, so its pool processes have loaded their modules and connected before it starts; the
alerts table is then analysed with every alert delivered, the statistics of a quiet time, which
is what PostgreSQL plans with when a backlog builds (Moogsoft was down). Runs
once with the rate limit out of the way (the forwarder's own cost) and, with `--limit`, once
under a shared limit (checks that nothing arrives early).

    MUTT_TEST_REDIS_URL=redis://127.0.0.1:6379/3 \\
    MUTT_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/mutt_bench \\
    .venv/bin/python bench/forwarder.py --alerts 3000 --concurrency 2 --limit 200
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.e2e import cpu_snapshot  # noqa: E402


def worker_cpu(pid: int) -> float:
    """CPU seconds used so far by a worker: its main process and its pool processes."""
    root = psutil.Process(pid)
    return sum(sum(process.cpu_times()[:2]) for process in [root, *root.children(recursive=True)])


def postgres_cpu() -> dict[int, float]:
    """CPU seconds used so far by each process of this machine's PostgreSQL server."""
    return {pid: seconds for pid, (group, seconds) in cpu_snapshot([]).items() if group == "postgresql"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument("--limit", type=int, default=0, help="also run under this many sends per second")
    parser.add_argument("--per-task", type=int, default=100,
                        help="alerts per forward task (a full alerter batch of 500 events yields about 50 in bench/e2e.py)")
    parser.add_argument("--batch-size", type=int, default=1, help="the moog_batch_size setting: alerts per request")
    parser.add_argument("--warm-up", type=int, default=500, help="alerts delivered before the clock starts")
    args = parser.parse_args()

    from tests.support import services

    redis_session = services.SessionRedis(own=False)
    redis_url = redis_session.url
    database_url = services.postgres_url()
    if database_url is None:
        sys.exit("PostgreSQL is needed (MUTT_TEST_DATABASE_URL)")
    os.environ.update(MUTT_ENV="test", REDIS_URL=redis_url, DATABASE_URL=database_url, LOG_FORMAT="text")
    home = Path(tempfile.mkdtemp(prefix="mutt-bench-forwarder-"))
    os.environ["MUTT_HOME"] = str(home)

    from sqlalchemy import text

    from mutt_app import dynconfig
    from mutt_app.handoff import forward_alerts
    from mutt_app.storage import db, migrate, redis_client
    from mutt_app.storage.models import Base
    from mutt_app.tools.moog_standin import MoogStandin
    from tests.support.alerts import insert_alerts
    from tests.support.processes import mutt_env, start_worker, wait_until

    migrate.upgrade(database_url)
    client = redis_client.get(redis_url)
    standin = MoogStandin().start()
    env = mutt_env(redis_url, database_url, home, MOOG_WEBHOOK_URL=standin.url, MOOG_API_KEY="bench")
    def delivered() -> int:
        with db.engine(database_url).connect() as connection:
            return connection.scalar(text("SELECT count(*) FROM alerts WHERE state = 'delivered'"))

    runs = [("no limit", 1_000_000)] + ([(f"{args.limit}/s", args.limit)] if args.limit else [])
    print(f"{'run':>10} {'alerts':>7} {'seconds':>8} {'alerts/s':>9} {'at stand-in':>12} {'max in 1 s':>11} "
          f"{'worker CPU µs/alert':>20} {'PostgreSQL µs/alert':>20}")
    for name, limit in runs:
        client.flushdb()
        with db.engine(database_url).begin() as connection:
            connection.execute(text("TRUNCATE " + ", ".join(t.name for t in Base.metadata.sorted_tables)))
        dynconfig.runtime(client).store("moog_rate_limit", limit)
        dynconfig.runtime(client).store("moog_rate_period", 1.0)
        dynconfig.runtime(client).store("moog_batch_size", args.batch_size)
        standin.state.received.clear()
        worker = start_worker(env, home, queues="moog", concurrency=args.concurrency, name=f"bench-{limit}")
        try:
            warm_up = insert_alerts(args.warm_up)
            for n in range(0, len(warm_up), args.per_task):
                forward_alerts(warm_up[n:n + args.per_task])
            warmed = len(warm_up)
            wait_until(lambda warmed=warmed: delivered() == warmed, timeout=120, interval=0.1, message="the warm-up delivered")
            standin.state.received.clear()
            with db.engine(database_url).connect() as connection:
                connection.execute(text("ANALYZE alerts"))
            ids = insert_alerts(args.alerts)
            cpu_before, postgres_before = worker_cpu(worker.pid), postgres_cpu()
            started = time.monotonic()
            for n in range(0, len(ids), args.per_task):
                forward_alerts(ids[n:n + args.per_task])
            expected = len(warm_up) + len(ids)
            wait_until(lambda expected=expected: delivered() == expected, timeout=600, interval=0.25, message="every alert delivered")
            elapsed = time.monotonic() - started
            cpu = worker_cpu(worker.pid) - cpu_before
            postgres = sum(used - postgres_before.get(pid, 0.0) for pid, used in postgres_cpu().items())
        finally:
            worker.stop()
        arrivals = sorted(r.at for r in standin.received)
        busiest = max((sum(1 for t in arrivals[i:i + limit + 1] if t - arrivals[i] < 1.0)
                       for i in range(len(arrivals))), default=0) if limit < len(arrivals) else len(arrivals)
        seen = len({r.body["external_id"] for r in standin.received})  # one record per alert, batched or not
        print(f"{name:>10} {len(ids):>7} {elapsed:>8.1f} {len(ids) / elapsed:>9.0f} {seen:>12} {busiest:>11} "
              f"{cpu * 1e6 / len(ids):>20.0f} {postgres * 1e6 / len(ids):>20.0f}")
    standin.stop()
    redis_session.stop()


if __name__ == "__main__":
    main()
