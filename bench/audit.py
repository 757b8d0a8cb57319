"""The event audit's write alone: client CPU and PostgreSQL CPU per row, for one statement per
batch (``db.insert_columns_ignoring_duplicates``, what the alerter sends), with the arrays in
binary form (as MUTT sends them) and, for comparison, as text.

Rows are built from bench/e2e.py's events (the whole event as the JSON document, as the alerter
stores it), written in batches into a scratch database (dropped and created, migrated), each
batch committed. PostgreSQL's CPU is its backend process's, read before and after.

Then the alerter's look-up of which of a batch's events are stored already
(``store._not_stored_yet``: the ids as one array and the span of their times) against the list of
(id, time) pairs it used before, for 50 and 500 events, client and PostgreSQL CPU per look-up.

    .venv/bin/python bench/audit.py [--rows 20000] [--batch 500] [--database-url ...]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import create_engine, select, text, tuple_
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.e2e import make_event  # noqa: E402
from mutt_app.alerting import store  # noqa: E402
from mutt_app.alerting.decide import Signal  # noqa: E402
from mutt_app.core import ids  # noqa: E402
from mutt_app.storage import db  # noqa: E402
from mutt_app.storage.models import EventAudit  # noqa: E402

AUDIT = EventAudit.__table__


def rows(count: int) -> list[dict]:
    rng, now = random.Random(7), datetime.now(UTC)
    made = []
    for n in range(count):
        event = make_event(rng, n) | {"_id": ids.new_id(), "_received_at": now.isoformat(), "_correlation_id": ids.new_uuid()}
        made.append({"event_id": event["_id"], "received_at": now, "event_time": now, "hostname": event["hostname"],
                     "rule_id": None, "rule_name": "", "environment": "prod", "decision": "unhandled", "forwarded": False,
                     "team": "NETO", "correlation_id": event["_correlation_id"], "event": event, "alert_id": None,
                     "silence_id": None})
    return made


def text_arrays(session: Session, table, batch: list[dict]) -> None:
    """The same statement with its arrays sent as text (``%(name)s``): psycopg quotes each element."""
    names = tuple(column.name for column in table.columns)
    statement = (f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM "
                 f"{db._unnest(table, names).replace(')b AS', ')s AS')} ON CONFLICT DO NOTHING")
    session.connection().exec_driver_sql(statement, db._arrays(session, table, names, batch))


def measure(url: str, made: list[dict], size: int, write) -> tuple[float, float]:
    engine = db.connect(url)[0]  # as MUTT makes it (its JSON serializer, pool settings)
    with engine.connect() as connection:
        backend = psutil.Process(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar())
        connection.commit()
        server, client = sum(backend.cpu_times()[:2]), time.process_time()
        for start in range(0, len(made), size):
            with Session(bind=connection) as session:
                write(session, AUDIT, made[start:start + size])
                session.commit()
        server, client = sum(backend.cpu_times()[:2]) - server, time.process_time() - client
    engine.dispose()
    return client * 1e6 / len(made), server * 1e6 / len(made)


def pairs_lookup(session: Session, signals: list[Signal], received: dict) -> None:
    """The look-up as it was: one (id, time received) pair per event."""
    keys = [(signal.alert["id"], received[signal.alert["id"]]) for signal in signals]
    set(session.scalars(select(EventAudit.event_id).where(tuple_(EventAudit.event_id, EventAudit.received_at).in_(keys))))


def measure_lookup(url: str, stored: list[dict], count: int, lookup, calls: int = 50) -> tuple[float, float]:
    """Client and PostgreSQL CPU (ms) per look-up of ``count`` stored events."""
    chosen = stored[-count:]
    signals = [Signal({"id": row["event_id"]}, False, "", row["received_at"]) for row in chosen]
    received = {row["event_id"]: row["received_at"] for row in chosen}
    engine = db.connect(url)[0]
    with engine.connect() as connection:
        backend = psutil.Process(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar())
        with Session(bind=connection) as session:
            lookup(session, signals, received)  # prepared, planned once off the clock
            server, client = sum(backend.cpu_times()[:2]), time.process_time()
            for _ in range(calls):
                lookup(session, signals, received)
            server, client = sum(backend.cpu_times()[:2]) - server, time.process_time() - client
    engine.dispose()
    return client * 1e3 / calls, server * 1e3 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--database-url", default=os.environ.get(
        "MUTT_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/mutt_bench_audit"))
    args = parser.parse_args()
    url = make_url(args.database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    os.environ.update(DATABASE_URL=args.database_url, MUTT_HOME=tempfile.mkdtemp(prefix="mutt-bench-audit-"))
    from mutt_app.storage import migrate
    migrate.upgrade(args.database_url)
    print(f"{'arrays':>8} {'rows':>7} {'batch':>6} {'client µs/row':>14} {'PostgreSQL µs/row':>18}")
    for name, write in (("binary", db.insert_columns_ignoring_duplicates), ("text", text_arrays),
                        ("binary", db.insert_columns_ignoring_duplicates)):
        stored = rows(args.rows)
        client, server = measure(args.database_url, stored, args.batch, write)
        print(f"{name:>8} {args.rows:>7} {args.batch:>6} {client:>14.1f} {server:>18.1f}")
    print(f"\n{'look-up':>12} {'events':>7} {'client ms':>10} {'PostgreSQL ms':>14}")
    for count in (50, 500):
        for name, lookup in (("pairs", pairs_lookup), ("array+span", store._not_stored_yet)):
            client, server = measure_lookup(args.database_url, stored, count, lookup)
            print(f"{name:>12} {count:>7} {client:>10.2f} {server:>14.2f}")


if __name__ == "__main__":
    main()
