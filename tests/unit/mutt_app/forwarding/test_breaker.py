import threading

import pytest

from mutt_app import dynconfig
from mutt_app.core import metrics
from mutt_app.forwarding.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


@pytest.fixture
def breaker(redis, clock):
    settings = dynconfig.runtime(redis)
    settings.store("circuit_breaker_threshold", 3)
    settings.store("circuit_breaker_timeout", 1)
    return CircuitBreaker(redis, probe_lease=0.5, clock=clock)


def fail(breaker, times):
    for _ in range(times):
        breaker.record_failure()


def transition_count(from_state, to_state) -> float:
    return metrics.BREAKER_TRANSITIONS.labels("moogsoft", from_state, to_state)._value.get()


def test_a_new_breaker_is_closed_and_lets_sends_through(breaker):
    assert breaker.state() == CLOSED
    assert breaker.allow() == (True, 0.0)
    assert breaker.transitions() == {}


def test_it_opens_after_threshold_consecutive_failures_only(breaker):
    fail(breaker, 2)
    breaker.record_success()  # the run is broken: count starts again
    fail(breaker, 2)
    assert breaker.state() == CLOSED
    opened_before = transition_count("closed", "open")
    breaker.record_failure()
    assert breaker.state() == OPEN
    allowed, wait = breaker.allow()
    assert not allowed and 0.5 < wait <= 1.0
    assert breaker.transitions() == {"closed>open": 1}
    assert transition_count("closed", "open") == opened_before + 1
    assert breaker.snapshot()["failures"] == 3


def test_a_wave_of_results_counts_in_order_as_one_call(breaker):
    breaker.record([False, False, True, False])  # the success broke the run: one failure counts
    assert (breaker.state(), breaker.snapshot()["failures"]) == (CLOSED, 1)
    opened_before = transition_count("closed", "open")
    breaker.record([False, False, False])  # the third consecutive failure opens it; the fourth adds
    assert (breaker.state(), breaker.snapshot()["failures"]) == (OPEN, 4)
    assert transition_count("closed", "open") == opened_before + 1
    breaker.record([])
    assert breaker.snapshot()["failures"] == 4


def test_after_the_timeout_one_probe_goes_through_and_its_success_closes(breaker, clock):
    fail(breaker, 3)
    clock.advance(1.05)
    probe = breaker.acquire()
    assert probe.allowed and probe.probe
    assert breaker.state() == HALF_OPEN
    other = breaker.acquire()
    assert not other.allowed and 0 < other.wait_seconds <= 0.5
    breaker.record_success()
    assert breaker.state() == CLOSED
    assert breaker.allow() == (True, 0.0)
    assert breaker.transitions() == {"closed>open": 1, "open>half_open": 1, "half_open>closed": 1}


def test_a_failed_probe_opens_it_again_for_a_full_timeout(breaker, clock):
    fail(breaker, 3)
    clock.advance(1.05)
    assert breaker.acquire().probe
    breaker.record_failure()
    assert breaker.state() == OPEN
    allowed, wait = breaker.allow()
    assert not allowed and wait > 0.9
    assert breaker.transitions()["half_open>open"] == 1


def test_a_probe_that_never_reports_is_replaced_after_its_lease(breaker, clock):
    fail(breaker, 3)
    clock.advance(1.05)
    assert breaker.acquire().probe  # this worker "dies" without reporting
    assert not breaker.acquire().allowed
    clock.advance(0.55)
    second = breaker.acquire()
    assert second.allowed and second.probe
    breaker.record_success()
    assert breaker.state() == CLOSED


def test_the_timeout_is_read_at_each_call(redis, breaker):
    fail(breaker, 3)
    assert not breaker.allow()[0]
    dynconfig.runtime(redis).store("circuit_breaker_timeout", 30)
    allowed, wait = breaker.allow()
    assert not allowed and wait > 29


def test_of_many_concurrent_callers_exactly_one_probes(redis, breaker, clock):
    fail(breaker, 3)
    clock.advance(1.05)
    barrier = threading.Barrier(32)
    results = []
    lock = threading.Lock()

    def call():
        other = CircuitBreaker(redis, probe_lease=30, clock=clock)  # its own script object, as another worker
        barrier.wait()
        permit = other.acquire()
        with lock:
            results.append(permit)

    threads = [threading.Thread(target=call) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(p.allowed for p in results) == 1
    assert sum(p.probe for p in results) == 1
    assert breaker.transitions() == {"closed>open": 1, "open>half_open": 1}


def test_concurrent_failures_open_it_exactly_once(redis, breaker):
    barrier = threading.Barrier(20)

    def call():
        barrier.wait()
        CircuitBreaker(redis).record_failure()

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breaker.state() == OPEN
    assert breaker.transitions() == {"closed>open": 1}
    assert breaker.snapshot()["failures"] == 20


def test_the_state_gauge_is_sampled_from_redis(breaker):
    fail(breaker, 3)
    gauge = metrics.BREAKER_STATE.labels("moogsoft")
    gauge.set(0)
    assert breaker.sample_metrics() == OPEN
    assert gauge._value.get() == 1
