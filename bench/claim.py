"""The forwarder's work per alert before the network: claiming alerts from the outbox and building
their request bodies, client CPU per alert (no worker, no Moogsoft).

Inserts ``--alerts`` pending alerts (each with an event and a lifecycle as the alerter writes them)
into a scratch PostgreSQL database, claims them ``--per-claim`` at a time with ``outbox.claim``,
and encodes one request body per alert (``moog.request_body``, ``json_bytes.encode``), as a
forwarder task does; ``--rounds`` times, the alerts written anew each round.

    MUTT_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/mutt_bench \\
    .venv/bin/python bench/claim.py [--alerts 1000] [--per-claim 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LIFECYCLE = {"send": "open", "alert_id": 1, "alert_state": "open", "occurrences": 1, "flapping": False}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--per-claim", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from tests.support import services
    url = services.postgres_url()
    if url is None:
        sys.exit("PostgreSQL is needed (MUTT_TEST_DATABASE_URL)")
    os.environ.update(MUTT_ENV="test", DATABASE_URL=url, MUTT_HOME=tempfile.mkdtemp(prefix="mutt-bench-claim-"))

    from sqlalchemy import text

    from bench.e2e import make_event
    from mutt_app.core import json_bytes
    from mutt_app.forwarding import moog, outbox
    from mutt_app.storage import db, migrate
    from tests.support.alerts import insert_alerts

    migrate.upgrade(url)
    event = make_event(random.Random(7), 1) | {"_id": "0" * 32, "_received_at": "2026-12-05T03:00:00.123456+00:00",
                                               "_correlation_id": "c" * 32, "_source": "ingest", "_key": "bench"}
    per_alert = []
    for _ in range(args.rounds):
        with db.engine(url).begin() as connection:
            connection.execute(text("TRUNCATE alerts"))
        ids = insert_alerts(args.alerts, event=event, lifecycle=LIFECYCLE)
        started = time.process_time()
        for n in range(0, len(ids), args.per_claim):
            with db.session_scope() as session:
                claimed = outbox.claim(session, ids[n:n + args.per_claim], lease_seconds=60)
            for alert in claimed:
                json_bytes.encode(moog.request_body([alert]))
        per_alert.append((time.process_time() - started) * 1e6 / len(ids))
    print(f"claim and body, client CPU µs per alert ({args.rounds} rounds of {args.alerts}, "
          f"{args.per_claim} per claim): " + " / ".join(f"{value:.1f}" for value in sorted(per_alert)))


if __name__ == "__main__":
    main()
