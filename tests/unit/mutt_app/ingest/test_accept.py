import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from mutt_app import config, dynconfig
from mutt_app.access import api_keys
from mutt_app.alerting.batches import EventBatches
from mutt_app.dead_letters import dlq
from mutt_app.ingest import events
from mutt_app.ingest.accept import Ingest, Rejected, rejected_waiting, store_rejected
from mutt_app.ingest.buffer import QUEUED, EventBuffer
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import DeadLetter

STAMP = events.Stamp("cid-1", "2026-01-01T00:00:00+00:00", "ingest", "sender")


def canonical(n):
    return [events.normalise({"hostname": f"h{i}", "message": "m", "timestamp": 1}, STAMP) for i in range(n)]


def submit(ingest, valid, rejected=()):
    return ingest.submit([json.dumps(event) for event in valid], list(rejected), key_id="7", key_name="sender",
                         correlation_id="cid-1")


def batch_size(size):
    with session_scope() as session:
        dynconfig.change(session, "ingest_batch_size", size, actor="test")


def test_each_full_batch_size_is_cut_and_dispatched_and_flush_sends_the_rest(redis, sqlite_url):
    batch_size(100)
    dispatched = []
    ingest = Ingest(redis, dispatched.append)
    result = submit(ingest, canonical(250))
    assert (result.status, result.accepted, result.backlog) == (QUEUED, 250, 250)
    buffer, batches = EventBuffer(redis), EventBatches(redis)
    assert len(dispatched) == 2 and buffer.buffered() == 50
    assert ingest.flush() == 50
    assert len(dispatched) == 3 and buffer.buffered() == 0 and batches.pending() == 3
    sizes = sorted(len(batches.claim(batch_id, 60).events) for batch_id in dispatched)
    assert sizes == [50, 100, 100]


def test_a_request_that_does_not_cross_a_batch_boundary_leaves_its_events_to_the_flusher(redis, sqlite_url):
    batch_size(100)
    dispatched = []
    ingest = Ingest(redis, dispatched.append)
    for _ in range(99):
        submit(ingest, canonical(1))
    assert dispatched == []
    submit(ingest, canonical(1))
    assert len(dispatched) == 1 and EventBuffer(redis).buffered() == 0


def test_a_failed_dispatch_leaves_the_batch_leased_for_the_janitor(redis, sqlite_url, caplog):
    def broker_down(batch_id):
        raise ConnectionError("broker unreachable")

    batch_size(5)
    result = submit(Ingest(redis, broker_down), canonical(5))
    assert result.status == QUEUED
    buffer = EventBuffer(redis)
    [(batch_id, deadline)] = redis.zrange(redis_keys.BATCHES_PENDING, 0, -1, withscores=True)
    assert buffer.buffered() == 0 and 30 < deadline - time.time() <= 45  # janitor_stuck_after_seconds
    assert "janitor will enqueue it" in caplog.text


def test_rejected_items_become_dead_letters_only_when_the_valid_ones_were_queued(redis, sqlite_url):
    with session_scope() as session:
        dynconfig.change(session, "max_ingest_queue_size", 1000, actor="test")
    asked = []
    ingest = Ingest(redis, lambda batch_id: None, lambda: asked.append(1))
    refused = submit(ingest, canonical(1001), [Rejected(3, "hostname: required", {"message": "x"})])
    assert refused.status == "backlog_full" and refused.retry_after == 5
    assert rejected_waiting(redis) == 0 and asked == []
    result = submit(ingest, canonical(1), [Rejected(3, "hostname: required", {"message": "x"})])
    assert result.status == QUEUED and result.rejected[0].index == 3
    assert rejected_waiting(redis) == 1 and asked == [1] and EventBuffer(redis).stats()["rejected"] == 1
    assert store_rejected(redis) == 1 and rejected_waiting(redis) == 0
    with session_scope() as session:
        [letter] = session.scalars(select(DeadLetter)).all()
        assert (letter.kind, letter.reason, letter.payload) == (dlq.EVENT, dlq.INVALID_EVENT, {"message": "x"})
        assert letter.error == "item 3: hostname: required (key sender, correlation id cid-1)"


def test_an_all_invalid_batch_is_kept_for_dead_letters_without_touching_the_buffer(redis, sqlite_url):
    result = submit(Ingest(redis, lambda b: None), [], [Rejected(0, "event: a JSON int, not an object", 5)])
    assert result.status == QUEUED and result.accepted == 0
    assert EventBuffer(redis).buffered() == 0 and EventBuffer(redis).backlog() == 0
    assert store_rejected(redis) == 1
    with session_scope() as session:
        assert [d.payload for d in session.scalars(select(DeadLetter))] == [5]


def test_ingest_touches_no_database_rejected_items_wait_in_redis_while_it_is_down(redis, sqlite_url, tmp_path):
    """A database that is down costs ingest nothing: the items wait in Redis, and are stored once it is back."""
    ingest = Ingest(redis, lambda b: None)
    ingest.settings()  # the runtime settings come from Redis
    unreachable = f"sqlite:///{tmp_path}/outage/mutt.db"
    (tmp_path / "outage" / "mutt.db").mkdir(parents=True)  # a directory where the file should be: nothing opens
    os.environ["DATABASE_URL"] = unreachable
    config.reset()
    try:
        for round_ in range(10):
            result = submit(ingest, canonical(2), [Rejected(i, "bad", {"n": round_ * 3 + i}) for i in range(3)])
            assert result.status == QUEUED
        with pytest.raises(OperationalError):
            store_rejected(redis)
        assert rejected_waiting(redis) == 30
    finally:
        os.environ["DATABASE_URL"] = sqlite_url
        config.reset()
    assert store_rejected(redis) == 30 and rejected_waiting(redis) == 0
    with session_scope() as session:
        payloads = sorted(d.payload["n"] for d in session.scalars(select(DeadLetter)))
    assert payloads == list(range(30))


def test_two_runs_at_once_or_one_that_died_before_trimming_store_each_item_once(redis, sqlite_url):
    ingest = Ingest(redis, lambda b: None)
    for round_ in range(7):
        submit(ingest, [], [Rejected(i, "bad", {"n": round_ * 100 + i}) for i in range(100)])
    died = []

    def scope_that_dies_after_commit():  # stores the first 250, then dies before trimming them
        @contextmanager
        def scope():
            with session_scope() as session:
                yield session
            if not died:
                died.append(1)
                raise KeyboardInterrupt("killed between commit and trim")
        return scope

    with pytest.raises(KeyboardInterrupt):
        store_rejected(redis, scope_that_dies_after_commit(), at_once=250)
    assert rejected_waiting(redis) == 700
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: store_rejected(redis, at_once=50), range(3)))
    assert rejected_waiting(redis) == 0
    with session_scope() as session:
        payloads = sorted(d.payload["n"] for d in session.scalars(select(DeadLetter)))
    assert payloads == sorted(r * 100 + i for r in range(7) for i in range(100))


def test_the_flusher_thread_cuts_what_waits_and_stops(redis, sqlite_url):
    dispatched = []
    ingest = Ingest(redis, dispatched.append)
    submit(ingest, canonical(3))
    ingest.ensure_flusher()
    ingest.ensure_flusher()  # idempotent in one process
    deadline = time.monotonic() + 10
    while not dispatched and time.monotonic() < deadline:
        time.sleep(0.02)
    ingest.stop_flusher()
    assert len(dispatched) == 1 and EventBuffer(redis).buffered() == 0


def test_web_processes_share_one_flush_timer_so_a_batch_holds_what_came_in_an_interval(redis, sqlite_url):
    with session_scope() as session:
        dynconfig.change(session, "ingest_flush_interval_ms", 400, actor="test")
    dispatched = []
    processes = [Ingest(redis, dispatched.append) for _ in range(4)]  # four web processes' flushers
    for ingest in processes:  # started out of step, as real processes are
        ingest.ensure_flusher()
        time.sleep(0.1)
    try:
        started = time.monotonic()
        for _ in range(10):  # 10 events over about 300 ms: younger than the interval until the last
            submit(processes[0], canonical(1))
            time.sleep(0.03)
        while not dispatched and time.monotonic() - started < 10:
            time.sleep(0.01)
        waited = time.monotonic() - started
    finally:
        for ingest in processes:
            ingest.stop_flusher()
    assert len(dispatched) == 1 and 0.35 <= waited <= 0.7
    assert len(EventBatches(redis).claim(dispatched[0], 60).events) == 10


def test_sync_last_used_moves_forward_and_forgets_unknown_keys(redis, sqlite_url):
    with session_scope() as session:
        row, _ = api_keys.create(session, "sender", ["ingest"], actor="test")
        key_id = row.id
    redis.hset(redis_keys.APIKEY_LAST_USED, mapping={str(key_id): 1_700_000_000, "999": 1_700_000_000})
    with session_scope() as session:
        assert api_keys.sync_last_used(session, redis) == 1
    with session_scope() as session:
        assert session.get(api_keys.ApiKey, key_id).last_used_at.timestamp() == 1_700_000_000
        assert api_keys.sync_last_used(session, redis) == 0  # nothing newer
    assert redis.hkeys(redis_keys.APIKEY_LAST_USED) == [str(key_id)]
