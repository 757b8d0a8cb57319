"""Delivery to Moogsoft through a real worker process, real Redis and PostgreSQL, and an HTTP
stand-in for Moogsoft that answers as each test tells it. Every test counts: each alert ends
delivered (its external_id seen by the stand-in) or a dead letter with a reason."""

from __future__ import annotations

import json
import time

import pytest

from mutt_app import dynconfig
from mutt_app.forwarding.breaker import CircuitBreaker
from mutt_app.handoff import forward_alerts
from mutt_app.storage import db
from mutt_app.tools.moog_standin import STAMP_JITTER
from tests.support.alerts import alerts, dead_letters, insert_alerts, states
from tests.support.processes import mutt_env, start_worker, wait_until

pytestmark = pytest.mark.integration

SECRET = "moog-key-never-logged"


@pytest.fixture
def settings(redis):
    """Runtime settings as an operator would set them (every worker sees them within a second)."""
    runtime = dynconfig.runtime(redis)
    runtime.store("moog_rate_limit", 1000)
    runtime.store("circuit_breaker_threshold", 5)
    runtime.store("circuit_breaker_timeout", 3)
    return runtime


@pytest.fixture
def start(redis, pg_url, standin, settings, tmp_path):
    """start(**env) -> a worker process on the moog queue, sending to the stand-in."""
    from tests.conftest import REDIS_URL

    workers = []

    def _start(concurrency=2, name="worker", **extra):
        extra = {"MOOG_WEBHOOK_URL": standin.url, "MOOG_API_KEY": SECRET, "MOOG_TIMEOUT": "2",
                 "MOOG_RETRY_BACKOFF": "1", "MOOG_RETRY_BACKOFF_MAX": "4", **extra}
        env = mutt_env(REDIS_URL, pg_url, tmp_path / "home", **extra)
        workers.append(start_worker(env, tmp_path, queues="moog", concurrency=concurrency, name=name))
        return workers[-1]

    yield _start
    for worker in workers:
        worker.stop()
    for worker in workers:
        assert SECRET not in worker.log()


@pytest.fixture
def breaker(redis):
    return CircuitBreaker(redis)


def seen(standin) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in standin.received:
        external_id = request.body["external_id"]
        counts[external_id] = counts.get(external_id, 0) + 1
    return counts


def delivered(standin) -> set[str]:
    return {body["external_id"] for body in standin.delivered()}


def finished(ids):
    return lambda: states(ids).get("delivered", 0) + states(ids).get("dead", 0) == len(ids)


def assert_all_delivered(ids, standin):
    assert states(ids) == {"delivered": len(ids)}
    assert set(ids) <= delivered(standin)
    assert dead_letters() == {}


def test_moog_failing_for_a_while_then_recovering_loses_nothing(start, standin, breaker):
    start()
    ids = insert_alerts(30)
    standin.behave(500)
    failing_from = time.monotonic()
    for n in range(0, 30, 10):
        forward_alerts(ids[n:n + 10])
    wait_until(lambda: len(standin.received) >= 5 and breaker.state() == "open", timeout=20,
               message="the breaker opened on Moogsoft's 500s")
    time.sleep(max(0.0, 12 - (time.monotonic() - failing_from)))
    standin.behave(200)
    wait_until(finished(ids), timeout=90, message="every alert delivered")
    assert_all_delivered(ids, standin)
    assert sum(1 for r in standin.received if r.status == 500) >= 5
    transitions = breaker.transitions()
    assert transitions.get("closed>open", 0) >= 1 and transitions.get("half_open>closed", 0) >= 1


def test_429_retry_after_is_honoured(start, standin):
    start()
    ids = insert_alerts(3)
    standin.behave(429, retry_after=2, times=1)
    forward_alerts(ids)
    wait_until(finished(ids), timeout=30, message="every alert delivered")
    assert_all_delivered(ids, standin)
    throttled = standin.received[0]
    assert throttled.status == 429
    again = [r for r in standin.received[1:] if r.body["external_id"] == throttled.body["external_id"]]
    assert len(again) == 1 and again[0].at - throttled.at >= 2.0
    # the rest of the batch waited as long: nothing was sent inside the two seconds
    assert all(r.at - throttled.at >= 2.0 for r in standin.received[1:])


def test_moog_hanging_past_the_timeout_is_retried(start, standin):
    start(MOOG_TIMEOUT="1")
    ids = insert_alerts(3)
    standin.behave(200, delay=3, times=2)
    forward_alerts(ids)
    wait_until(finished(ids), timeout=40, message="every alert delivered")
    assert_all_delivered(ids, standin)
    # sent again after the timeout (Moogsoft de-duplicates on external_id); the stand-in records
    # the hung request only when its delay is over
    wait_until(lambda: seen(standin).get(ids[0], 0) >= 2, timeout=10, message="the hung request recorded")
    assert max(alerts(ids)[i].attempts for i in ids) >= 2


def test_a_400_is_a_dead_letter_at_once_and_can_be_replayed(start, standin):
    start()
    [rejected, fine] = insert_alerts(2)
    standin.behave(400, body="field severity: expected integer", times=1)
    forward_alerts([rejected, fine])
    wait_until(finished([rejected, fine]), timeout=30, message="both alerts finished")
    assert seen(standin) == {rejected: 1, fine: 1}  # no retry of a permanent refusal
    assert states([rejected]) == {"dead": 1} and states([fine]) == {"delivered": 1}
    letter = dead_letters()[rejected]
    assert (letter.kind, letter.reason, letter.last_status, letter.attempts) == ("alert", "moog_rejected", 400, 1)
    assert letter.error.startswith("HTTP 400: ") and "field severity: expected integer" in letter.error
    assert letter.payload["external_id"] == rejected and SECRET not in json.dumps(letter.payload)

    # an operator fixes the cause and replays it (a permanent refusal is replayed only when forced)
    from mutt_app.handoff import replay_pipeline
    from mutt_app.remediation import replay

    with db.session_scope() as session:
        outcome = replay.replay(session, [letter.id], actor="ops", reason="severity fixed", force=True,
                                pipeline=replay_pipeline())
    assert outcome.replayed == [letter.id]
    wait_until(lambda: states([rejected]) == {"delivered": 1}, timeout=30, message="the replayed alert delivered")
    assert seen(standin)[rejected] == 2



def test_batched_requests_deliver_everything_and_a_refused_one_leaves_only_its_bad_alert_dead(start, standin, settings):
    settings.store("moog_batch_size", 10)
    start()
    ids = insert_alerts(40)
    bad = ids[17]
    standin.behave(refuse=bad)
    for n in range(0, len(ids), 20):
        forward_alerts(ids[n:n + 20])
    wait_until(finished(ids), timeout=30, message="every alert finished")
    assert states(ids) == {"delivered": 39, "dead": 1}
    assert delivered(standin) == set(ids) - {bad}
    assert set(dead_letters()) == {bad} and dead_letters()[bad].reason == "moog_rejected"
    assert all(count == 1 for alert_id, count in seen(standin).items() if alert_id not in ids[10:20])
    assert standin.state.requests < len(ids) / 2  # most went ten to a request

def test_a_burst_of_ten_times_the_rate_limit_is_all_delivered_and_never_early(start, standin, settings):
    limit, period = 5, 1.0
    settings.store("moog_rate_limit", limit)
    settings.store("moog_rate_period", period)
    start(name="worker-a")
    start(name="worker-b")  # the limit is shared: two worker processes, four pool processes
    ids = insert_alerts(10 * limit)
    started = time.time()
    for n in range(0, len(ids), 10):
        forward_alerts(ids[n:n + 10])
    wait_until(finished(ids), timeout=60, message="every alert delivered")
    assert_all_delivered(ids, standin)
    assert seen(standin) == {alert_id: 1 for alert_id in ids}
    # no window of `period` seconds holds more than `limit` requests, as Moogsoft saw them
    closest = standin.tightest(limit + 1)
    assert closest >= period - STAMP_JITTER, f"{limit + 1} requests within {closest:.3f} s"
    assert max(r.at for r in standin.received) - started >= (len(ids) / limit - 1) * period
    assert {a.attempts for a in alerts(ids).values()} == {1}  # waiting for a slot is not an attempt


def test_the_breaker_opens_probes_once_closes(start, standin, settings, breaker):
    settings.store("circuit_breaker_threshold", 3)
    start(concurrency=1)
    ids = insert_alerts(8)
    standin.behave(500)
    forward_alerts(ids)
    wait_until(lambda: breaker.state() == "open", timeout=20, message="the breaker opened")
    wait_until(lambda: breaker.transitions().get("half_open>open") == 1, timeout=20,
               message="the first probe failed and re-opened the breaker")
    standin.behave(200)
    wait_until(lambda: breaker.state() == "closed", timeout=20, message="the second probe closed the breaker")
    wait_until(finished(ids), timeout=40, message="every alert delivered")
    assert_all_delivered(ids, standin)
    assert breaker.transitions() == {"closed>open": 1, "open>half_open": 2, "half_open>open": 1, "half_open>closed": 1}
    # By arrival at Moogsoft (the breaker's times are whole milliseconds, so the request that
    # opened it can look later than its opening): three failures open it; while it is open
    # nothing is sent; each half-open lets one probe through, after the full timeout.
    assert [r.status for r in standin.received[:5]] == [500, 500, 500, 500, 200]
    third, first_probe, second_probe = standin.received[2:5]
    assert first_probe.at - third.at >= 2.99
    assert second_probe.at - first_probe.at >= 2.99


def test_waiting_for_the_breaker_does_not_spend_retries(start, standin, settings, breaker):
    # Two retries allowed. Send 1 fails and opens the breaker (threshold 1); the alert then waits
    # out the open breaker (deferred, not retried); the probe (send 2) fails: retry 1 of 2; the
    # next probe (send 3) is answered. Had the waiting counted as retries, send 2 would have
    # exhausted the budget and made a dead letter.
    settings.store("circuit_breaker_threshold", 1)
    settings.store("circuit_breaker_timeout", 2)
    start(concurrency=1, MOOG_MAX_RETRIES="2")
    [alert_id] = insert_alerts(1)
    standin.behave(500, times=2)
    forward_alerts([alert_id])
    wait_until(finished([alert_id]), timeout=40, message="the alert finished")
    assert_all_delivered([alert_id], standin)
    assert [r.status for r in standin.received] == [500, 500, 200]
    assert breaker.transitions()["half_open>open"] == 1
