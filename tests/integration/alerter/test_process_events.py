"""mutt.process_events with a real Celery worker (thread), real Redis and PostgreSQL.

Every test counts: events in = audited + unhandled + dead letters, in Redis's stats and in
the database.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from celeryconfig import ALERTS_QUEUE
from mutt_app import config, dynconfig, handoff, services
from mutt_app.alerting.batches import EventBatches
from mutt_app.dead_letters import dlq
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.rules import rule_store, rulebook, seed
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, DeadLetter, EventAudit
from tasks import alerter as alerter_task
from tests.support.processes import wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("worker", [[ALERTS_QUEUE]], indirect=True, ids=["alerts queue"])]


@pytest.fixture
def batches(redis, pg_url, worker):
    """The ingest side of the batches the in-thread worker processes, with the seed rules loaded.
    These tests count events through the pipeline, so every forwarded event makes an outbox row
    (dedup_window_seconds 0); what the lifecycle sends is tested in tests/unit/mutt_app/alerting
    and tests/integration/alerter/test_lifecycle_three_workers.py."""
    dynconfig.runtime(redis).store("dedup_window_seconds", 0)
    with session_scope() as session:
        seed.load_if_empty(session)
    services.current().forget(alerter_task.RULES)  # the worker loaded the rules as it started, before the seed
    return EventBuffer(redis)


def make_event(hostname, message, **extra) -> dict:
    now = datetime.now(UTC).isoformat()
    return {"_id": uuid.uuid4().hex, "_correlation_id": uuid.uuid4().hex, "_received_at": now, "_source": "test",
            "_key": "test", "timestamp": now, "hostname": hostname, "message": message, **extra}


def send(buffer: EventBuffer, events: list[dict], batch_size: int = 50, enqueue: bool = True) -> list[str]:
    result = buffer.accept([json.dumps(e) for e in events], key_id="test", rate_limit=0, rate_window=60,
                           max_backlog=10_000_000)
    assert result.status == "queued"
    ids = []
    while (cut := buffer.cut(batch_size, 300)) is not None:
        ids.append(cut[0])
        if enqueue:
            handoff.process_batch(cut[0])
    return ids


def settled(buffer: EventBuffer, expected: int) -> dict:
    def done():
        stats = buffer.stats()
        total = sum(stats.get(k, 0) for k in ("audited", "unhandled", "dead_lettered"))
        return stats if total >= expected and buffer.backlog() == 0 else None

    return wait_until(done, timeout=60, message=f"{expected} events processed")


def db_counts() -> tuple[int, int, int, int]:
    with session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(EventAudit)),
            session.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "rule")),
            session.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "meta")),
            session.scalar(select(func.count()).select_from(DeadLetter)),
        )


def test_every_event_ends_audited_unhandled_or_dead_lettered(batches):
    events = (
        [make_event("core-router-01.dc1.example.com", f"LINK-DOWN Gi0/{i}") for i in range(150)]   # alert each
        + [make_event("test-switch1", f"ERROR {i}") for i in range(50)]                           # dev: Ignore
        + [make_event("edge-fw-02.edge.example.com", f"port {i} flapping") for i in range(100)]  # roll-up: 1 meta
        + [{**make_event("x", "no host"), "hostname": None} for _ in range(5)]                  # dead letters
    )
    send(batches, events)
    stats = settled(batches, len(events))
    assert (stats["accepted"], stats["audited"], stats["unhandled"], stats["dead_lettered"]) == (305, 200, 100, 5)
    assert db_counts() == (300, 150, 1, 5)   # 200 matched and 100 unhandled events have audit rows
    with session_scope() as session:
        unhandled = session.scalars(select(EventAudit).where(EventAudit.decision == "unhandled")).all()
    assert len(unhandled) == 100 and {(r.hostname, r.forwarded, r.rule_id) for r in unhandled} == {
        ("edge-fw-02.edge.example.com", False, None)}
    with session_scope() as session:
        meta = session.scalars(select(Alert).where(Alert.kind == "meta")).one()
        assert (meta.team, meta.state, meta.hostname) == ("Security", "pending", "edge-fw-02.edge.example.com")
        letters = session.scalars(select(DeadLetter)).all()
        assert {(d.reason, d.attempts) for d in letters} == {(dlq.PROCESSING_FAILED, 1)}
        assert all("no hostname" in d.error for d in letters)
        dev = session.scalars(select(EventAudit).where(EventAudit.hostname == "test-switch1")).first()
        assert (dev.environment, dev.decision, dev.forwarded, dev.rule_name) == ("dev", "Ignore", False, "Error")


def test_a_batch_redelivered_after_its_commit_adds_nothing(batches, monkeypatch):
    real_complete, crashed = EventBatches.complete, []

    def crash_once(self, batch_id, counts):
        if not crashed:
            crashed.append(batch_id)
            raise ConnectionError("worker lost between commit and complete")
        return real_complete(self, batch_id, counts)

    monkeypatch.setattr(EventBatches, "complete", crash_once)
    events = [make_event("core-router-01.dc1.example.com", f"LINK-DOWN {i}") for i in range(20)]
    (batch_id,) = send(batches, events)
    wait_until(lambda: crashed, message="the first run to crash")
    wait_until(lambda: db_counts()[0] == 20, message="the first run's commit")
    handoff.process_batch(batch_id)  # what the janitor does when the lease runs out
    stats = settled(batches, 20)
    assert (stats["audited"], db_counts()) == (20, (20, 20, 0, 0))


def switch_over(buffer: EventBuffer, message: str, batch_size: int) -> tuple[list[bool], float]:
    """Stream events saying ``message`` while a rule matching it is created; returns, per event
    sent more than 1 s after the change, whether it matched, and how long after the change the
    first matching event was sent (negative: it was sent before and processed after)."""
    stop, sent = threading.Event(), []

    def stream():
        while not stop.is_set():
            batch = [make_event(f"host{i}", message) for i in range(4)]
            send(buffer, batch, batch_size=batch_size)
            sent.extend((e["_id"], time.monotonic()) for e in batch)
            time.sleep(0.02)

    feeder = threading.Thread(target=stream)
    feeder.start()
    try:
        wait_until(lambda: buffer.stats().get("unhandled", 0) >= 40, message="unhandled events before the change")
        with session_scope() as session:
            rule = rule_store.create_rule(session, {"match_string": message.lower(), "prod_handling": "Ignore",
                                                  "dev_handling": "Ignore", "team_assignment": "T"}, actor="test")
        changed_at = time.monotonic()
        time.sleep(2.5)
    finally:
        stop.set()
        feeder.join()
    settled(buffer, len(sent))
    with session_scope() as session:
        audited = set(session.scalars(select(EventAudit.event_id).where(EventAudit.rule_id == rule.id)))
    assert len(audited) < len(sent), "before the change the events were unhandled"
    first_matched = min(at for event_id, at in sent if event_id in audited)
    return [event_id in audited for event_id, at in sent if at > changed_at + 1.0], first_matched - changed_at


def test_a_rule_change_is_used_within_a_second(batches):
    after, first_match = switch_over(batches, "%FOO-3-BAR thing happened", batch_size=4)
    assert after and all(after), "events sent more than 1 s after the change must all match the new rule"
    assert first_match < 1.0


def test_database_down_retries_and_loses_nothing(batches, pg_url):
    good = pg_url
    from tests.conftest import use_database

    use_database("postgresql+psycopg://postgres@127.0.0.1:1/unreachable")
    try:
        (batch_id,) = send(batches, [make_event("core-router-01.dc1.example.com", "LINK-DOWN x")])
        time.sleep(3.5)  # the task meets the unreachable database: tries at about 0, 1 and 3 s
        assert batches.redis.exists(redis_keys.batch(batch_id)), "the batch must stay in Redis"
        # handled failures are not counted as lost workers (three would get the batch split)
        assert int(batches.redis.hget(redis_keys.BATCH_ATTEMPTS, batch_id) or 0) <= 1
    finally:
        use_database(good)
    stats = settled(batches, 1)
    assert stats["audited"] == 1 and db_counts()[0] == 1


def test_a_batch_that_keeps_killing_workers_is_split_then_its_poison_dead_lettered(batches):
    events = [make_event("core-router-01.dc1.example.com", f"LINK-DOWN {i}") for i in range(4)]
    (batch_id,) = send(batches, events, enqueue=False)
    batches.redis.hset(redis_keys.BATCH_ATTEMPTS, batch_id, 3)  # three workers died with it
    handoff.process_batch(batch_id)
    stats = settled(batches, 4)
    assert stats["audited"] == 4 and db_counts()[:2] == (4, 4)
    (single,) = send(batches, [make_event("core-router-01.dc1.example.com", "LINK-DOWN poison")], enqueue=False)
    assert alerter_task.recover_batch(single, 4) == "dead_letter"  # the janitor's view of a 4th loss
    stats = settled(batches, 5)
    assert stats["dead_lettered"] == 1
    with session_scope() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert (letter.reason, letter.attempts, letter.payload["message"]) == (dlq.WORKER_LOST, 4, "LINK-DOWN poison")


def change_setting(key, value):
    with session_scope() as session:
        dynconfig.change(session, key, value, actor="test")


def test_backpressure_sheds_to_dead_letters_or_defers(batches):
    send(batches, [make_event("core-router-01.dc1.example.com", f"LINK-DOWN {i}") for i in range(3)])
    settled(batches, 3)  # three alerts now wait for Moogsoft (no forwarder runs here)
    change_setting("alerter_queue_shed_threshold", 2)
    change_setting("alerter_shed_mode", "dlq")
    services.current().forget(alerter_task.BACKLOG)  # the next batch counts the alerts waiting again
    send(batches, [make_event("h", "LINK-DOWN shed me") for _ in range(2)])
    stats = settled(batches, 5)
    assert stats["dead_lettered"] == 2
    with session_scope() as session:
        assert {d.reason for d in session.scalars(select(DeadLetter))} == {dlq.SHED}
    change_setting("alerter_shed_mode", "defer")
    change_setting("alerter_defer_seconds", 1)
    (deferred,) = send(batches, [make_event("h", "LINK-DOWN later")])
    time.sleep(3.5)
    assert batches.redis.exists(redis_keys.batch(deferred)), "a deferred batch waits in Redis"
    assert int(batches.redis.hget(redis_keys.BATCH_ATTEMPTS, deferred) or 0) <= 1  # deferring is not crashing
    change_setting("alerter_queue_shed_threshold", 100_000)
    stats = settled(batches, 6)
    assert stats["audited"] == 4


def test_an_event_the_database_refuses_does_not_sink_its_batch(batches):
    events = [make_event("core-router-01.dc1.example.com", f"LINK-DOWN {i}") for i in range(10)]
    events[4]["message"] = "LINK-DOWN with a NUL \x00 PostgreSQL's JSONB refuses"
    send(batches, events)
    stats = settled(batches, 10)
    assert (stats["audited"], stats["dead_lettered"]) == (9, 1)
    assert db_counts() == (9, 9, 0, 1)
    with session_scope() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert (letter.ref_id, letter.reason) == (events[4]["_id"], dlq.PROCESSING_FAILED)
        assert "unstorable_event" in letter.payload and "DataError" in letter.error


def test_v25_samples_posted_through_ingest_are_all_accounted_for(batches):
    """Through the real ingest endpoint: every accepted event is audited, unhandled or a dead letter."""
    from pathlib import Path

    from tests.support.web import admin_key
    from web import create_app
    from web.ingest import endpoint

    config.reset()
    application = create_app()
    application.config.update(TESTING=True)
    key = admin_key(("ingest",), name="sender")
    data = Path(__file__).resolve().parents[2] / "data"
    posted = 0
    with application.test_client() as client:
        for name in ("test_data_syslog_events.json", "demo_syslog_events.json", "demo_snmp_traps.json"):
            events = json.loads((data / name).read_text(encoding="utf-8-sig"))
            response = client.post("/api/v2/ingest", json=events, headers={"X-API-KEY": key})
            assert response.status_code == 200, response.get_data(as_text=True)
            posted += len(events)
        endpoint(application).pipeline().flush()  # the partly filled last batch (no flusher thread in tests)
    assert posted == 496
    stats = settled(batches, batches.stats()["accepted"])
    outcomes = [stats.get(k, 0) for k in ("audited", "unhandled", "dead_lettered")]
    assert stats["accepted"] == posted == sum(outcomes)
    audited, _rule_alerts, _meta, letters = db_counts()
    # every event not dead-lettered has its audit row: the matched and the unhandled ones (issue 20)
    assert audited == outcomes[0] + outcomes[1] and outcomes[0] > 0 and outcomes[1] > 0 and letters == outcomes[2]


def test_a_catastrophic_or_invalid_stored_rule_does_not_stall_the_alerter(batches):
    """(a+)+$ stored as a rule used to hold a worker for hours per 'aaaa…a!' event; on RE2 the
    batch completes like any other. Rows written around validation (a lookahead, a handling typo)
    are reported and skipped or audited, and the rest of the rule set keeps working."""
    from mutt_app.storage.models import Rule

    common = dict(team_assignment="NetOps", moog_severity=3, is_active=True, description="", created_by="sql",
                  updated_by="sql", dev_handling="Ignore")
    with session_scope() as session:
        session.add(Rule(name="catastrophic", match_type="regex", match_string="(a+)+$", priority=1,
                         prod_handling="Ticket_only", **common))
        session.add(Rule(name="lookahead", match_type="regex", match_string="LINK(?=-DOWN)", priority=2,
                         prod_handling="Page_only", **common))
        session.add(Rule(name="typo", match_type="contains", match_string="FAN-FAIL", priority=3,
                         prod_handling="Pgae_only", **common))
    rulebook.bump_version()
    host = "core-router-01.dc1.example.com"
    events = ([make_event(host, "a" * 34 + "!") for _ in range(20)] + [make_event(host, "a" * 100_000 + "!")]
              + [make_event(host, "aaaa"), make_event(host, "LINK-DOWN Gi0/1"), make_event(host, "FAN-FAIL tray 2")])
    send(batches, events)
    stats = settled(batches, len(events))
    assert (stats["accepted"], stats["audited"], stats["unhandled"], stats.get("dead_lettered", 0)) == (24, 3, 21, 0)
    with session_scope() as session:
        audited = {row.event["message"][:9]: (row.rule_name, row.decision, row.forwarded)
                   for row in session.scalars(select(EventAudit).where(EventAudit.decision != "unhandled"))}
        unhandled = session.scalar(select(func.count()).select_from(EventAudit).where(EventAudit.decision == "unhandled"))
    assert unhandled == 21
    assert audited == {"aaaa": ("catastrophic", "Ticket_only", True),
                       "LINK-DOWN": ("Link down", "Page_and_ticket", True),  # the seed rule: the lookahead one is left out
                       "FAN-FAIL ": ("typo", "Pgae_only", False)}
