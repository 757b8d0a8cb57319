"""Three worker processes on one broker: the global limits stay exact.

The Moogsoft rate limit, the unhandled roll-up threshold and the runtime settings live in Redis,
so adding workers must not add sends per second or extra meta-alerts. Events go in through the
real ingest endpoint (granian) in small batches, so every worker gets a share.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from mutt_app import dynconfig
from mutt_app.access import api_keys
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.rules import rule_store
from mutt_app.storage import db
from mutt_app.storage.models import Alert
from mutt_app.tools.moog_standin import STAMP_JITTER
from tests.support.fixtures import stack_of
from tests.support.processes import wait_until

LIMIT, PERIOD, THRESHOLD = 10, 1.0, 40


def limits_rule_and_key(redis) -> dict:
    runtime = dynconfig.runtime(redis)
    for key, value in {"moog_rate_limit": LIMIT, "moog_rate_period": PERIOD, "unhandled_threshold": THRESHOLD,
                       "unhandled_window_seconds": 3600, "ingest_batch_size": 5}.items():
        runtime.store(key, value)
    with db.session_scope() as session:
        rule_store.create_rule(session, {"name": "scale", "match_string": "SCALE-FWD", "match_type": "contains",
                                       "priority": 1, "prod_handling": "Page_only", "dev_handling": "Ignore",
                                       "team_assignment": "NetOps", "moog_severity": 4}, actor="test")
        _, key = api_keys.create(session, "scale test", ["ingest"], actor="test")
    return {"key": key}


pytestmark = [pytest.mark.integration, stack_of("three workers", workers=3, queues="alerts,moog",
                                                env={"MOOG_API_KEY": "k"}, prepare=limits_rule_and_key)]


def test_rate_limit_and_rollup_threshold_hold_exactly_across_three_workers(stack, redis):
    url, key, standin = stack.url, stack.prepared["key"], stack.standin
    events = [{"hostname": f"edge-{n}", "timestamp": "2026-11-25T10:00:00Z", "message": f"SCALE-FWD link {n} down"}
              for n in range(10 * LIMIT)]   # one host each: one alert each (the same host would be one alert)
    below = [("quiet-host", THRESHOLD - 1)]
    at_or_above = [("chatty-host", THRESHOLD), ("noisy-host", 2 * THRESHOLD + 20)]
    for host, count in below + at_or_above:
        events += [{"hostname": host, "timestamp": "2026-11-25T10:00:00Z",
                    "message": f"%FAN-4-SPEED: fan {n} at {1000 + n} rpm"} for n in range(count)]
    random.Random(7).shuffle(events)
    chunks = [events[n:n + 7] for n in range(0, len(events), 7)]
    started = time.time()

    def post(chunk):
        return requests.post(url + "/api/v2/ingest", json=chunk, headers={"X-API-KEY": key}, timeout=30).json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, chunks))
    assert sum(answer["accepted"] for answer in answers) == len(events)

    buffer = EventBuffer(redis)
    unhandled = len(events) - 10 * LIMIT
    wait_until(lambda: buffer.stats().get("unhandled", 0) == unhandled and buffer.stats().get("audited") == 10 * LIMIT,
               timeout=60, message="every event processed")
    expected_alerts = 10 * LIMIT + len(at_or_above)

    def delivered_in_db() -> bool:
        with db.session_scope() as session:
            return set(session.scalars(select(Alert.state))) == {"delivered"}

    wait_until(lambda: len({b["external_id"] for b in standin.delivered()}) == expected_alerts and delivered_in_db(),
               timeout=90, message="every alert delivered")

    with db.session_scope() as session:
        rows = session.scalars(select(Alert)).all()
        metas = sorted(row.hostname for row in rows if row.kind == "meta")
        assert len(rows) == expected_alerts and {row.state for row in rows} == {"delivered"}
    assert metas == sorted(host for host, _ in at_or_above)  # one each, none for the quiet host
    assert buffer.stats().get("dead_lettered", 0) == 0

    assert standin.tightest(LIMIT + 1) >= PERIOD - STAMP_JITTER, \
        "more than moog_rate_limit sends reached Moogsoft within one period"
    assert max(r.at for r in standin.received) - started >= (expected_alerts / LIMIT - 1) * PERIOD
