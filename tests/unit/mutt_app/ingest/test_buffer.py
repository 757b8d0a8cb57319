import json
from datetime import UTC

from mutt_app.alerting.batches import EventBatches
from mutt_app.ingest.buffer import BACKLOG_FULL, QUEUED, RATE_LIMITED, EventBuffer
from mutt_app.storage import redis_keys


def events(n, start=0):
    return [json.dumps({"_id": f"e{i}", "message": f"m{i}"}) for i in range(start, start + n)]


def accept(buffer, items, **overrides):
    options = dict(key_id="k1", rate_limit=0, rate_window=60, max_backlog=1000)
    options.update(overrides)
    return buffer.accept(items, **options)


def test_accepted_events_are_buffered_counted_and_cut_into_leased_batches(redis):
    buffer = EventBuffer(redis)
    result = accept(buffer, events(5))
    assert (result.status, result.backlog, result.buffered) == (QUEUED, 5, 5)
    batch_id, size = buffer.cut(max_events=3, lease_seconds=60)
    assert size == 3 and buffer.buffered() == 2
    assert EventBatches(redis).pending() == 1
    claim = EventBatches(redis).claim(batch_id, lease_seconds=60)
    assert claim.attempts == 1
    assert [event["_id"] for event in claim.events] == ["e0", "e1", "e2"]
    assert buffer.stats()["accepted"] == 5


def test_cut_of_an_empty_buffer_makes_no_batch(redis):
    assert EventBuffer(redis).cut(max_events=10, lease_seconds=60) is None


def test_a_timed_cut_waits_until_the_oldest_buffered_event_has_waited_long_enough(redis, clock):
    buffer = EventBuffer(redis, clock=clock)
    assert buffer.cut_when_due(10, 60, waited_ms=300) == (None, 0.0)  # empty
    accept(buffer, events(2))
    cut, due_in = buffer.cut_when_due(10, 60, waited_ms=300)
    assert cut is None and 0.1 < due_in <= 0.3  # just arrived
    clock.advance(0.2)
    accept(buffer, events(2, start=2))  # newer events do not make the buffer younger
    clock.advance(0.15)
    (batch_id, size), due_in = buffer.cut_when_due(10, 60, waited_ms=300)
    assert size == 4 and due_in == 0 and redis.get(redis_keys.INGEST_BUFFER_SINCE) is None


def test_what_a_cut_leaves_in_the_buffer_is_dated_from_the_cut(redis, clock):
    buffer = EventBuffer(redis, clock=clock)
    accept(buffer, events(5))
    clock.advance(0.35)
    buffer.cut(max_events=3, lease_seconds=60)  # a request filled a batch; 2 events stay
    cut, due_in = buffer.cut_when_due(10, 60, waited_ms=300)
    assert cut is None and 0.1 < due_in <= 0.3
    clock.advance(due_in + 0.02)
    assert buffer.cut_when_due(10, 60, waited_ms=300)[0][1] == 2


def test_backlog_limit_refuses_a_whole_request_and_keeps_nothing(redis):
    buffer = EventBuffer(redis)
    accept(buffer, events(8), max_backlog=10)
    refused = accept(buffer, events(3, start=8), max_backlog=10)
    assert refused.status == BACKLOG_FULL and refused.backlog == 8
    assert buffer.buffered() == 8 and buffer.stats()["accepted"] == 8


def test_rate_limit_refuses_with_a_retry_time(redis):
    buffer = EventBuffer(redis)
    assert accept(buffer, events(1), rate_limit=2, rate_window=60).status == QUEUED
    assert accept(buffer, events(1), rate_limit=2, rate_window=60).status == QUEUED
    refused = accept(buffer, events(1), rate_limit=2, rate_window=60)
    assert refused.status == RATE_LIMITED
    assert 0 < refused.retry_after <= 30
    assert accept(buffer, events(1), key_id="other", rate_limit=2, rate_window=60).status == QUEUED


def test_accept_counts_events_per_minute_for_the_dashboard(redis):
    from datetime import datetime

    now = datetime(2026, 11, 25, 12, 34, 56, tzinfo=UTC)
    accept(EventBuffer(redis), events(7), now=now)
    assert redis.get(redis_keys.ingest_rate("1m", "2026-11-25T12:34")) == "7"
    assert redis.get(redis_keys.ingest_rate("24h", "2026-11-25")) == "7"
    assert 0 < redis.ttl(redis_keys.ingest_rate("1m", "2026-11-25T12:34")) <= 7200


def test_events_either_side_of_a_minute_count_in_their_own_minute_and_the_same_hour(redis):
    from datetime import datetime

    buffer = EventBuffer(redis)
    accept(buffer, events(2), now=datetime(2026, 11, 25, 12, 59, 59, 999_000, tzinfo=UTC))
    accept(buffer, events(3), now=datetime(2026, 11, 25, 13, 0, 0, tzinfo=UTC))
    accept(buffer, events(4), now=datetime(2026, 11, 25, 13, 0, 30, tzinfo=UTC))
    assert redis.get(redis_keys.ingest_rate("1m", "2026-11-25T12:59")) == "2"
    assert redis.get(redis_keys.ingest_rate("1m", "2026-11-25T13:00")) == "7"
    assert redis.get(redis_keys.ingest_rate("1h", "2026-11-25T12")) == "2"
    assert redis.get(redis_keys.ingest_rate("1h", "2026-11-25T13")) == "7"
    assert redis.get(redis_keys.ingest_rate("24h", "2026-11-25")) == "9"


def test_a_request_of_more_events_than_lua_can_unpack_at_once_is_queued_whole(redis):
    buffer = EventBuffer(redis)
    result = accept(buffer, events(20_000), max_backlog=100_000)
    assert (result.status, result.backlog, result.buffered) == (QUEUED, 20_000, 20_000)
    assert json.loads(redis.lindex(redis_keys.INGEST_BUFFER, -1))["_id"] == "e19999"
    assert buffer.stats()["accepted"] == 20_000
