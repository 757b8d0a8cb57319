"""A rule change reaches a separate worker process (prefork, two children) within a second."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from mutt_app import rulebook, seed
from mutt_app.batches import EventBatches
from mutt_app.db import session_scope
from mutt_app.models import EventAudit
from tests.integration.alerter.test_process_events import make_event, send, settled
from tests.support.processes import mutt_env, start_worker, wait_until

pytestmark = pytest.mark.integration


def test_a_rule_change_reaches_every_worker_process_within_a_second(redis, pg_url, tmp_path):
    from tests.conftest import REDIS_URL

    with session_scope() as session:
        seed.load_if_empty(session)
    worker = start_worker(mutt_env(REDIS_URL, pg_url, tmp_path / "home"), tmp_path, queues="alerts", concurrency=2)
    batches, stop, sent = EventBatches(redis), threading.Event(), []
    try:
        def stream():
            while not stop.is_set():
                batch = [make_event(f"host{i}", "%QUUX-2-ZAP it broke") for i in range(4)]
                send(batches, batch, batch_size=2)  # two batches: both pool processes get work
                sent.extend((e["_id"], time.monotonic()) for e in batch)
                time.sleep(0.02)

        feeder = threading.Thread(target=stream)
        feeder.start()
        try:
            wait_until(lambda: batches.stats().get("unhandled", 0) >= 40, message="unhandled events before the change")
            with session_scope() as session:
                rule = rulebook.create_rule(session, {"match_string": "quux-2-zap", "prod_handling": "Ticket_only",
                                                      "dev_handling": "Ignore", "team_assignment": "T"}, actor="test")
            changed_at = time.monotonic()
            time.sleep(2.5)
        finally:
            stop.set()
            feeder.join()
        settled(batches, len(sent))
    finally:
        worker.stop()
    with session_scope() as session:
        audited = set(session.scalars(select(EventAudit.event_id).where(EventAudit.rule_id == rule.id)))
    after = [event_id in audited for event_id, at in sent if at > changed_at + 1.0]
    assert after and all(after), "every event sent more than 1 s after the change matched the new rule"
    assert len(audited) < len(sent), "events before the change were unhandled"
