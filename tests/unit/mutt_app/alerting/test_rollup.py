"""The unhandled roll-up on real Redis: fingerprint, threshold, sliding window, suppression,
concurrent workers, redelivered batches."""

from __future__ import annotations

import random
import re
import threading
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mutt_app.alerting.rollup import _MASKS, Rollup, fingerprint, masked, recent_unhandled
from mutt_app.storage import redis_keys


@pytest.mark.parametrize(
    "a, b",
    [
        ("port 1 down", "port 2 down"),
        ("login failed from 10.0.0.1", "login failed from 192.168.17.254"),
        ("mac 00:1a:2b:3c:4d:5e moved", "mac 00:1A:2B:3C:4D:FF moved"),
        ("mac 001a.2b3c.4d5e moved", "mac 0011.2233.4455 moved"),
        ("session 0x7f3a22 closed", "session 0x1 closed"),
        ("txn 9f86d081884c7d65 aborted", "txn 2c26b46b68ffc68f aborted"),
        ("neighbor fe80::1 down", "neighbor 2001:db8::7 down"),
        ("Port 1   DOWN", "port 1 down"),
    ],
)
def test_the_fingerprint_masks_what_varies(a, b):
    assert fingerprint(a) == fingerprint(b)


def every_pattern_on_every_message(message):
    text = message
    for pattern, placeholder, *_ in _MASKS:
        text = pattern.sub(placeholder, text)
    return re.sub(r"\s+", " ", text).strip().lower()


# Messages made of the characters the masks care about (hex digits, separators, Unicode digits and
# spaces), so the cheap tests that skip a pattern are tried where it could match.
MESSAGE = st.text(alphabet=st.sampled_from(list("0123456789abcdefABCDEFxX:.-/ gG\t\u00a0\u2003\u0663\x1c")),
                  max_size=60)


@settings(max_examples=2000, deadline=None)
@given(MESSAGE)
def test_skipping_patterns_that_cannot_match_never_changes_the_mask(message):
    assert masked(message) == every_pattern_on_every_message(message)


def test_the_fingerprint_keeps_what_matters():
    assert fingerprint("port 1 down") != fingerprint("port 1 up")
    assert fingerprint("deadbeef error") != fingerprint("cafe error")  # words that happen to be hex stay
    assert masked("fan 2 failed at 10.1.1.1") == "fan <n> failed at <ip>"


def events(n, host="sw1", message="port {} down"):
    return [{"_id": uuid.uuid4().hex, "hostname": host, "message": message.format(i)} for i in range(n)]


def test_threshold_fires_once_then_suppresses(redis):
    rollup = Rollup(redis)
    batch = events(5)
    assert rollup.count(batch[:2], threshold=3, window_seconds=60) == []
    triggers = rollup.count(batch[2:], threshold=3, window_seconds=60)
    assert [(t.hostname, t.count, t.event["_id"]) for t in triggers] == [("sw1", 3, batch[2]["_id"])]
    assert rollup.count(events(10), threshold=3, window_seconds=60) == []
    other_host = rollup.count(events(3, host="SW2"), threshold=3, window_seconds=60)
    assert [t.hostname for t in other_host] == ["sw2"]
    assert rollup.count(events(3, message="fan {} failed"), threshold=3, window_seconds=60)


def test_a_redelivered_batch_counts_nothing_and_gets_its_meta_alert_back(redis):
    rollup = Rollup(redis)
    batch = events(3)
    assert rollup.count(batch[:2], threshold=3, window_seconds=60) == []
    assert rollup.count(batch[:2], threshold=3, window_seconds=60) == []  # same ids: still 2
    first = rollup.count(batch, threshold=3, window_seconds=60)
    again = rollup.count(batch, threshold=3, window_seconds=60)
    assert [t.event["_id"] for t in first] == [t.event["_id"] for t in again] == [batch[2]["_id"]]
    assert redis.zcard(redis_keys.unhandled_window("sw1", fingerprint("port 1 down"))) == 3


def test_one_batch_counts_each_host_and_fingerprint_on_its_own(redis):
    rollup = Rollup(redis)
    assert rollup.count(events(1, host="sw3"), threshold=3, window_seconds=60) == []
    batch = events(3, host="sw1") + events(2, host="sw2") + events(2, host="sw3") + events(3, host="sw1", message="fan {} failed")
    random.Random(7).shuffle(batch)
    triggers = rollup.count(batch, threshold=3, window_seconds=60)
    assert sorted((t.hostname, t.count, t.event["message"][:4]) for t in triggers) == [
        ("sw1", 3, "fan "), ("sw1", 3, "port"), ("sw3", 3, "port")]
    for trigger in triggers:  # each fired with the event that took its own key to the threshold
        members = [e for e in batch if e["hostname"] == trigger.hostname and fingerprint(e["message"]) == trigger.fingerprint]
        assert trigger.event is members[-1 if trigger.hostname == "sw1" else 1]
    assert redis.zcard(redis_keys.unhandled_window("sw2", fingerprint("port 1 down"))) == 2
    again = rollup.count(batch, threshold=3, window_seconds=60)  # redelivered: the same meta-alerts back
    assert sorted(t.event["_id"] for t in again) == sorted(t.event["_id"] for t in triggers)


def test_the_window_slides(redis, clock):
    rollup = Rollup(redis, clock=clock)
    assert rollup.count(events(2), threshold=3, window_seconds=1) == []
    clock.advance(1.1)
    assert rollup.count(events(2), threshold=3, window_seconds=1) == []  # the first two slid out
    assert len(rollup.count(events(1), threshold=3, window_seconds=1)) == 1


def test_suppression_ends_with_the_window(redis):
    rollup = Rollup(redis)
    assert len(rollup.count(events(2), threshold=2, window_seconds=1)) == 1
    assert rollup.count(events(5), threshold=2, window_seconds=1) == []
    time.sleep(1.1)
    assert len(rollup.count(events(2), threshold=2, window_seconds=1)) == 1


def test_lowering_the_threshold_below_a_live_count_fires_at_the_next_event(redis):
    rollup = Rollup(redis)
    assert rollup.count(events(5), threshold=10, window_seconds=60) == []
    assert len(rollup.count(events(1), threshold=3, window_seconds=60)) == 1


def test_concurrent_workers_raise_exactly_one_meta_alert(redis):
    rollup_per_thread = [Rollup(redis) for _ in range(8)]
    fired, start = [], threading.Barrier(8)

    def worker(rollup):
        start.wait()
        for _ in range(25):
            fired.extend(rollup.count(events(4), threshold=100, window_seconds=60))

    threads = [threading.Thread(target=worker, args=(r,)) for r in rollup_per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fired) == 1 and fired[0].count == 100
    assert redis.zcard(redis_keys.unhandled_window("sw1", fingerprint("port 1 down"))) == 100


def test_recent_unhandled_events_are_kept_bounded(redis):
    rollup = Rollup(redis)
    rollup.remember(events(3))
    assert [e["message"] for e in recent_unhandled(redis, 2)] == ["port 2 down", "port 1 down"]
