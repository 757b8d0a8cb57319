"""The way of one batch, driven directly (no worker): real Redis, SQLite and PostgreSQL; the queues
are lists that record what the lifecycle hands on."""

import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from mutt_app import dynconfig
from mutt_app.alerting import knowledge, lifecycle
from mutt_app.alerting.batches import EventBatches
from mutt_app.alerting.knowledge import KnowledgeCache
from mutt_app.alerting.lifecycle import BatchLifecycle
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.rules import seed
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, DeadLetter, EventAudit


def event(n, hostname, message):
    now = datetime.now(UTC).isoformat()
    return {"_id": f"e{n}", "_correlation_id": f"c{n}", "_received_at": now, "timestamp": now,
            "hostname": hostname, "message": message}


def cut(redis, events):
    buffer = EventBuffer(redis)
    buffer.accept([json.dumps(e) for e in events], key_id="k", rate_limit=0, rate_window=60, max_backlog=1000)
    batch_id, _ = buffer.cut(len(events), lease_seconds=60)
    return batch_id


class Queues:
    def __init__(self):
        self.batches, self.alerts = [], []

    def enqueue(self, batch_id, countdown=None):
        self.batches.append((batch_id, countdown))

    def forward(self, alert_ids):
        self.alerts.append(list(alert_ids))


def make(redis, queues, waiting=0):
    def load(version):
        with session_scope() as session:
            return knowledge.load(session, version)

    with session_scope() as session:
        seed.load_if_empty(session)
    return BatchLifecycle(redis, session_scope=session_scope, knowledge=KnowledgeCache(load),
                          alerts_waiting=lambda: waiting, enqueue=queues.enqueue, forward_alerts=queues.forward,
                          lease_seconds=60)


def count(model):
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_batch_is_claimed_decided_stored_handed_off_and_completed_once(redis, database_url):
    queues = Queues()
    batch_id = cut(redis, [event(1, "core-router-01.dc1.example.com", "LINK-DOWN Gi0/1"),
                           event(2, "somewhere", "nothing any rule knows"), {"_id": "e3"}])
    result = make(redis, queues).run(batch_id)
    assert result.status == lifecycle.PROCESSED and result.retry_in is None and result.correlation_id == "c1"
    assert queues.alerts == [["e1"]] and queues.batches == []
    assert (count(EventAudit), count(Alert), count(DeadLetter)) == (2, 1, 1)  # the unhandled event has its row
    stats = EventBuffer(redis).stats()
    assert (stats["audited"], stats["unhandled"], stats["dead_lettered"]) == (1, 1, 1)
    assert EventBuffer(redis).backlog() == 0 and EventBatches(redis).pending() == 0
    assert make(redis, queues).run(batch_id).status == lifecycle.ALREADY_DONE


def test_an_unhandled_event_is_audited_once_though_its_batch_is_run_again(redis, database_url):
    """The worker dies after the write and before the batch is completed: the batch runs again and
    its rows are not written twice (the unhandled one no more than the matched one)."""
    queues = Queues()
    batch_id = cut(redis, [event(1, "core-router-01.dc1.example.com", "LINK-DOWN Gi0/1"),
                           event(2, "Edge-SW-07", "nothing any rule knows"),
                           event(3, "edge-sw-08", "nothing any rule knows either")])
    calls = []

    def forward_dies_once(alert_ids):
        calls.append(list(alert_ids))
        if len(calls) == 1:
            raise RuntimeError("the worker is lost here")

    alerter = make(redis, queues)
    alerter._forward_alerts = forward_dies_once
    try:
        alerter.run(batch_id)
    except RuntimeError:
        pass
    assert count(EventAudit) == 3 and EventBuffer(redis).stats().get("unhandled", 0) == 0  # written, not completed
    assert alerter.run(batch_id).status == lifecycle.PROCESSED
    with session_scope() as session:
        rows = {row.event_id: row for row in session.scalars(select(EventAudit))}
    assert sorted(rows) == ["e1", "e2", "e3"]
    assert (rows["e2"].decision, rows["e2"].forwarded, rows["e2"].rule_id, rows["e2"].alert_id) == ("unhandled", False, None, None)
    assert rows["e2"].hostname == "Edge-SW-07" and rows["e2"].event["message"] == "nothing any rule knows"
    assert rows["e2"].correlation_id == "c2"
    stats = EventBuffer(redis).stats()
    assert (stats["audited"], stats["unhandled"]) == (1, 2)  # counted as before: audited = what a rule matched


def test_above_the_shed_threshold_a_batch_is_deferred_without_counting_a_crash(redis, sqlite_url):
    queues = Queues()
    dynconfig.runtime(redis).store("alerter_queue_shed_threshold", 10)
    batch_id = cut(redis, [event(1, "core-router-01.dc1.example.com", "LINK-DOWN Gi0/1")])
    assert make(redis, queues, waiting=11).run(batch_id).status == lifecycle.SHED
    assert queues.batches == [(batch_id, 5)] and queues.alerts == []  # alerter_defer_seconds
    assert int(redis.hget(redis_keys.BATCH_ATTEMPTS, batch_id)) == 0 and count(EventAudit) == 0


def test_a_batch_that_keeps_losing_its_worker_is_split_then_its_single_event_dead_lettered(redis, sqlite_url):
    queues = Queues()
    batch_id = cut(redis, [event(n, "h", "LINK-DOWN x") for n in range(3)])
    redis.hset(redis_keys.BATCH_ATTEMPTS, batch_id, lifecycle.MAX_BATCH_CLAIMS)
    assert make(redis, queues).run(batch_id).status == lifecycle.SPLIT  # its 4th claim
    singles = [batch for batch, _ in queues.batches]
    assert len(singles) == 3 and not redis.exists(redis_keys.batch(batch_id))
    assert make(redis, queues).recover(singles[0], lifecycle.MAX_BATCH_CLAIMS + 1) == lifecycle.DEAD_LETTER
    with session_scope() as session:
        [letter] = session.scalars(select(DeadLetter)).all()
        assert (letter.reason, letter.attempts) == ("worker_lost", lifecycle.MAX_BATCH_CLAIMS + 1)
    assert make(redis, queues).recover(singles[0], 1) == lifecycle.PROCESS  # gone: nothing to do


def test_crash_action():
    assert [lifecycle.crash_action(claims, 10, 3) for claims in (1, 3, 4)] == ["process", "process", "split"]
    assert lifecycle.crash_action(4, 1, 3) == "dead_letter"


def test_the_retry_countdown_doubles_up_to_a_minute():
    assert [lifecycle.retry_countdown(retries) for retries in (0, 1, 5, 6, 12)] == [1, 2, 32, 60, 60]
