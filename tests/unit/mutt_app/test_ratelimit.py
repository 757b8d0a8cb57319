import time

from mutt_app.ratelimit import GCRA, SlidingLog


def test_sliding_log_never_grants_more_than_the_limit_in_any_window(redis):
    limiter = SlidingLog(redis, "test:limit")
    first = limiter.acquire(limit=5, period=0.5, wanted=3)
    second = limiter.acquire(limit=5, period=0.5, wanted=3)
    assert (first.granted, second.granted) == (3, 2)
    assert 0 < second.wait_seconds <= 0.5
    assert limiter.acquire(limit=5, period=0.5, wanted=1).granted == 0
    time.sleep(second.wait_seconds + 0.01)
    assert limiter.acquire(limit=5, period=0.5, wanted=5).granted == 5


def test_gcra_allows_a_burst_of_the_limit_then_spaces_requests(redis):
    limiter = GCRA(redis)
    assert [limiter.acquire("test:gcra", limit=3, period=1.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("test:gcra", limit=3, period=1.0)
    assert 0 < wait <= 0.34
    time.sleep(wait + 0.01)
    assert limiter.acquire("test:gcra", limit=3, period=1.0) == 0.0
