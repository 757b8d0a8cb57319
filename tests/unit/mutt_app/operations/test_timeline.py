"""The dashboard's time series: sampling at most once per interval across processes, the capped
list, and the pure functions that draw it."""

from __future__ import annotations

import json

from mutt_app.operations import timeline
from mutt_app.storage import redis_keys


def test_a_sample_is_taken_once_per_interval_whoever_asks(redis):
    calls = []

    def take():
        calls.append(1)
        return {"backlog": len(calls)}

    first = timeline.record_if_due(redis, take, now=1000.0)
    assert first == {"at": 1000.0, "backlog": 1}
    assert timeline.record_if_due(redis, take, now=1001.0) is None  # another process, same interval
    assert calls == [1], "take() is not called when no sample is due"
    ttl = redis.pttl(redis_keys.DASHBOARD_SAMPLE_DUE)
    assert (timeline.SAMPLE_EVERY - 2) * 1000 < ttl <= (timeline.SAMPLE_EVERY - 1) * 1000
    redis.delete(redis_keys.DASHBOARD_SAMPLE_DUE)  # the interval passed
    assert timeline.record_if_due(redis, take, now=1010.0) == {"at": 1010.0, "backlog": 2}
    assert [json.loads(raw)["at"] for raw in redis.lrange(redis_keys.DASHBOARD_SAMPLES, 0, -1)] == [1000.0, 1010.0]


def test_the_list_keeps_an_hour_of_samples_and_reads_the_last_hour(redis):
    for n in range(timeline.MAX_SAMPLES + 25):
        redis.delete(redis_keys.DASHBOARD_SAMPLE_DUE)
        timeline.record_if_due(redis, lambda n=n: {"waiting": n}, now=float(n * 10))
    assert redis.llen(redis_keys.DASHBOARD_SAMPLES) == timeline.MAX_SAMPLES
    now = (timeline.MAX_SAMPLES + 24) * 10.0
    samples = timeline.read(redis, now=now, span=600)
    assert [s["waiting"] for s in samples] == list(range(timeline.MAX_SAMPLES + 24 - 60, timeline.MAX_SAMPLES + 25))
    redis.rpush(redis_keys.DASHBOARD_SAMPLES, "not json", json.dumps([1]), json.dumps({"at": "x"}))
    assert len(timeline.read(redis, now=now, span=600)) == 61, "a malformed sample is skipped"


def test_line_scales_time_to_the_width_and_the_highest_value_to_the_top():
    samples = [{"at": 3580.0, "waiting": 0}, {"at": 3590.0, "waiting": 134}, {"at": 3600.0, "waiting": 67}]
    chart = timeline.line(samples, "waiting", now=3600.0, span=20, width=300, height=60)
    assert chart["runs"] == ["0.0,60.0 150.0,0.0 300.0,30.0"]
    assert (chart["last"], chart["max"], chart["dots"]) == (67, 134, [])


def test_line_breaks_where_nothing_was_sampled_or_the_part_was_unreadable():
    samples = [{"at": 0.0, "queues": {"moog": 1}}, {"at": 10.0, "queues": {"moog": 2}},
               {"at": 200.0, "queues": {"moog": 4}},                     # 190 s later: a gap
               {"at": 210.0}, {"at": 220.0, "queues": {"moog": 3}}, {"at": 230.0, "queues": {"moog": 2}}]
    chart = timeline.line(samples, "queues.moog", now=300.0, span=300, width=300, height=40)
    assert chart["runs"] == ["0.0,30.0 10.0,20.0", "220.0,10.0 230.0,20.0"]
    assert chart["dots"] == ["200.0,0.0"]  # a lone sample between two gaps is a dot
    assert timeline.line([], "waiting", now=0.0)["runs"] == [] and timeline.line([], "waiting", now=0.0)["last"] is None


def test_bands_show_the_breakers_state_over_time_and_unknown_after_a_gap():
    samples = [{"at": 0.0, "breaker": "closed"}, {"at": 10.0, "breaker": "closed"}, {"at": 20.0, "breaker": "open"},
               {"at": 30.0, "breaker": "half_open"}, {"at": 40.0, "breaker": "closed"}, {"at": 200.0}]
    assert timeline.bands(samples, now=300.0, span=300, width=300) == [
        {"x": 0.0, "width": 20.0, "state": "closed"},
        {"x": 20.0, "width": 10.0, "state": "open"},
        {"x": 30.0, "width": 10.0, "state": "half_open"},
        {"x": 40.0, "width": 30.0, "state": "closed"},      # holds 3 intervals at most, then nothing is known
        {"x": 200.0, "width": 30.0, "state": "unknown"},    # a sample that could not read the breaker
    ]


def test_the_newest_sample_is_the_state_now_even_when_taken_this_instant():
    samples = [{"at": 270.0, "breaker": "closed"}, {"at": 300.0, "breaker": "open"}]
    assert timeline.bands(samples, now=300.0, span=300, width=300) == [
        {"x": 270.0, "width": 20.0, "state": "closed"},
        {"x": 290.0, "width": 10.0, "state": "open"},        # one interval wide, up to the right edge
    ]
    assert timeline.bands([{"at": 295.0, "breaker": "half_open"}], now=300.0, span=300, width=300) == [
        {"x": 290.0, "width": 10.0, "state": "half_open"}]
    steady = [{"at": 270.0, "breaker": "closed"}, {"at": 300.0, "breaker": "closed"}]
    assert timeline.bands(steady, now=300.0, span=300, width=300) == [{"x": 270.0, "width": 30.0, "state": "closed"}]
