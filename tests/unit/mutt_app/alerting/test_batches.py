import json

import pytest

from mutt_app.alerting.batches import EventBatches
from mutt_app.ingest.buffer import EventBuffer


def events(n, start=0):
    return [json.dumps({"_id": f"e{i}", "message": f"m{i}"}) for i in range(start, start + n)]


def accept(redis, items, **overrides):
    options = dict(key_id="k1", rate_limit=0, rate_window=60, max_backlog=1000)
    options.update(overrides)
    return EventBuffer(redis).accept(items, **options)


def test_complete_counts_once_even_when_a_batch_is_delivered_twice(redis):
    batches = EventBatches(redis)
    accept(redis, events(4))
    batch_id, _ = EventBuffer(redis).cut(max_events=4, lease_seconds=60)
    batches.claim(batch_id, 60)
    assert batches.complete(batch_id, {"audited": 3, "unhandled": 1}) is True
    assert batches.complete(batch_id, {"audited": 3, "unhandled": 1}) is False
    assert batches.claim(batch_id, 60) is None
    stats = EventBuffer(redis).stats()
    assert (stats["audited"], stats["unhandled"]) == (3, 1)
    assert EventBuffer(redis).backlog() == 0 and batches.pending() == 0


def test_complete_refuses_outcomes_it_does_not_know(redis):
    with pytest.raises(ValueError):
        EventBatches(redis).complete("b", {"vanished": 1})


def test_expired_batches_are_found_with_their_attempts(redis):
    batches = EventBatches(redis)
    accept(redis, events(2))
    stale, _ = EventBuffer(redis).cut(max_events=1, lease_seconds=-1)
    fresh, _ = EventBuffer(redis).cut(max_events=1, lease_seconds=60)
    assert batches.expired() == [(stale, 0)]
    batches.claim(stale, lease_seconds=-1)
    assert batches.expired() == [(stale, 1)]
    batches.extend(stale, 60)
    assert batches.expired() == []


def test_split_isolates_each_event_in_its_own_batch(redis):
    batches = EventBatches(redis)
    accept(redis, events(3))
    batch_id, _ = EventBuffer(redis).cut(max_events=3, lease_seconds=60)
    batches.claim(batch_id, 60)
    singles = batches.split(batch_id, lease_seconds=60)
    assert len(singles) == 3 and batches.pending() == 3
    assert [batches.claim(s, 60).events[0]["_id"] for s in singles] == ["e0", "e1", "e2"]
    assert batches.split(batch_id, 60) == []
