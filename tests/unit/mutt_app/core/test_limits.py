
from mutt_app.core.limits import GCRA


def test_gcra_allows_a_burst_of_the_limit_then_spaces_requests(redis, clock):
    limiter = GCRA(redis, clock=clock)
    assert [limiter.acquire("test:gcra", limit=3, period=1.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("test:gcra", limit=3, period=1.0)
    assert 0 < wait <= 0.34
    clock.advance(wait + 0.01)
    assert limiter.acquire("test:gcra", limit=3, period=1.0) == 0.0
