import json
import time
from datetime import UTC, datetime

import pytest

from mutt_app import dynconfig
from mutt_app.forwarding import moog, outbox
from mutt_app.forwarding.breaker import OPEN, CircuitBreaker
from mutt_app.forwarding.forwarder import BREAKER_OPEN, MOOG_FAILING, NO_ENDPOINT, RATE_LIMITED, Deferral, Forwarder, Retry
from mutt_app.forwarding.retry import RetryPolicy
from mutt_app.forwarding.send_window import SendWindow
from mutt_app.storage import db
from tests.support.alerts import alerts, dead_letters, insert_alerts, states

POLICY = RetryPolicy(max_retries=3, backoff=2, backoff_max=8, jitter=False)
SECRET = "moog-secret-key"


@pytest.fixture
def forwarder(redis, database_url, standin):
    settings = dynconfig.runtime(redis)
    settings.store("moog_rate_limit", 1000)
    settings.store("circuit_breaker_threshold", 3)
    settings.store("circuit_breaker_timeout", 60)
    return Forwarder(redis, moog.MoogClient(standin.url, SECRET, timeout=2))


def forward(forwarder, ids, retries=0):
    return forwarder.forward(ids, policy=POLICY, retries=retries, lease_seconds=60, budget_seconds=60)


def external_ids(standin):
    return [r.body["external_id"] for r in standin.received]


def test_pending_alerts_are_delivered_once_even_when_asked_twice(forwarder, standin):
    ids = insert_alerts(5)
    report = forward(forwarder, ids)
    assert report.delivered == ids and not report.deferred and report.retries == []
    again = forward(forwarder, ids)
    assert again.skipped == ids and not again.delivered
    assert sorted(external_ids(standin)) == sorted(ids)  # each once; a wave's sends arrive in any order
    rows = alerts(ids)
    assert {a.state for a in rows.values()} == {"delivered"}
    assert all(a.delivered_at and a.attempts == 1 and a.last_status == 200 and a.lease_until is None for a in rows.values())


def test_a_permanent_refusal_is_a_dead_letter_with_status_body_and_payload_without_secrets(forwarder, standin):
    [alert_id] = insert_alerts(1)
    standin.behave(400, body="severity must be an integer", times=1)
    report = forward(forwarder, [alert_id])
    assert report.dead == [alert_id]
    assert alerts([alert_id])[alert_id].state == "dead"
    letter = dead_letters()[alert_id]
    assert (letter.kind, letter.reason, letter.last_status, letter.attempts) == ("alert", "moog_rejected", 400, 1)
    assert letter.error.startswith("HTTP 400: ") and "severity must be an integer" in letter.error
    assert letter.payload["external_id"] == alert_id
    assert letter.payload["custom_info"]["event"] == standin.received[0].body["custom_info"]["event"] == {
        "_id": alert_id, "hostname": "host-0", "message": "link down 0"}   # the event as sent, a document
    assert SECRET not in json.dumps(letter.payload) + letter.error
    assert CircuitBreaker(forwarder.breaker._redis).snapshot()["failures"] == 0  # Moog is up


def test_a_retryable_failure_hands_that_alert_to_the_retry_path_and_puts_the_rest_off(forwarder, standin):
    ids = insert_alerts(4)
    standin.behave(503, times=1)
    report = forward(forwarder, ids)
    assert report.retries == [Retry(ids[0], 2.0, None, 'HTTP 503: {"message": "stand-in error"}')]
    assert report.deferred == [Deferral(tuple(ids[1:]), 2.0, MOOG_FAILING)]
    rows = alerts(ids)
    assert {a.state for a in rows.values()} == {"pending"}
    assert rows[ids[0]].attempts == 1 and rows[ids[0]].last_status == 503
    assert [rows[i].attempts for i in ids[1:]] == [0, 0, 0]  # never sent: the claim is given back
    lease = (rows[ids[0]].lease_until - datetime.now(UTC)).total_seconds()
    assert 2 + 45 - 2 < lease <= 2 + 45  # countdown + janitor grace


def test_retry_after_sets_the_countdown(forwarder, standin):
    [alert_id] = insert_alerts(1)
    standin.behave(429, retry_after=5, times=1)
    report = forward(forwarder, [alert_id], retries=2)
    [retry] = report.retries
    assert retry.countdown == 5.0 and retry.retry_after == 5.0


def test_the_last_retry_failing_makes_a_retries_exhausted_dead_letter(forwarder, standin):
    [alert_id] = insert_alerts(1)
    standin.behave(500, times=1)
    report = forward(forwarder, [alert_id], retries=POLICY.max_retries)
    assert report.dead == [alert_id] and report.retries == []
    letter = dead_letters()[alert_id]
    assert (letter.reason, letter.last_status) == ("retries_exhausted", 500)


def test_the_rate_limit_sends_what_it_allows_and_spreads_the_rest_over_the_next_windows(redis, forwarder, standin):
    dynconfig.runtime(redis).store("moog_rate_limit", 3)
    dynconfig.runtime(redis).store("moog_rate_period", 2.0)
    ids = insert_alerts(10)
    report = forward(forwarder, ids)
    assert report.delivered == ids[:3]
    assert [d.alert_ids for d in report.deferred] == [tuple(ids[3:6]), tuple(ids[6:9]), tuple(ids[9:])]
    assert {d.reason for d in report.deferred} == {RATE_LIMITED}
    countdowns = [d.countdown for d in report.deferred]
    assert 0 < countdowns[0] <= 2.0 and countdowns[1] == pytest.approx(countdowns[0] + 2.0, abs=0.1)
    assert states(ids) == {"delivered": 3, "pending": 7}
    assert {alerts(ids)[i].attempts for i in ids[3:]} == {0}
    # a task that finds the limit used up does not even claim
    later = forward(forwarder, ids[3:6])
    assert later.deferred[0].alert_ids == tuple(ids[3:6]) and {alerts(ids)[i].attempts for i in ids[3:]} == {0}


def test_an_open_breaker_puts_alerts_off_without_sending_or_claiming(forwarder, standin):
    ids = insert_alerts(3)
    for _ in range(3):
        forwarder.breaker.record_failure()
    assert forwarder.breaker.state() == OPEN
    report = forward(forwarder, ids)
    assert report.deferred == [Deferral(tuple(ids), pytest.approx(60, abs=1), BREAKER_OPEN)]
    assert standin.received == [] and states(ids) == {"pending": 3}
    assert {a.attempts for a in alerts(ids).values()} == {0}


def test_consecutive_failures_open_the_breaker(forwarder, standin):
    standin.behave(500)
    for alert_id in insert_alerts(3):
        forward(forwarder, [alert_id])
    assert forwarder.breaker.state() == OPEN


def test_without_an_endpoint_alerts_wait(redis, database_url):
    ids = insert_alerts(2)
    report = Forwarder(redis, None).forward(ids, policy=POLICY, lease_seconds=60, budget_seconds=60)
    assert report.deferred == [Deferral(tuple(ids), 60.0, NO_ENDPOINT)]
    assert states(ids) == {"pending": 2} and dead_letters() == {}



def test_a_dead_alert_can_be_reopened_for_replay(forwarder, standin):
    [alert_id] = insert_alerts(1)
    standin.behave(400, times=1)
    forward(forwarder, [alert_id])
    with db.session_scope() as session:
        assert outbox.reopen(session, [alert_id, "unknown"]) == [alert_id]
    assert alerts([alert_id])[alert_id].attempts == 0
    assert forward(forwarder, [alert_id]).delivered == [alert_id]


def test_alerts_go_one_first_then_in_growing_waves_up_to_moog_concurrency(redis, forwarder, standin):
    dynconfig.runtime(redis).store("moog_concurrency", 4)
    standin.behave(200, delay=0.3)
    ids = insert_alerts(11)
    started = time.monotonic()
    report = forward(forwarder, ids)
    elapsed = time.monotonic() - started
    assert sorted(report.delivered) == sorted(ids) and states(ids) == {"delivered": 11}
    # waves of 1, 2, 4, 4: four round trips of 0.3 s, not eleven (3.3 s)
    assert 1.2 <= elapsed < 2.4
    assert sorted(external_ids(standin)) == sorted(ids) and external_ids(standin)[0] == ids[0]


def test_every_alert_that_fails_in_a_wave_goes_to_the_retry_path_and_the_rest_wait(redis, forwarder, standin):
    dynconfig.runtime(redis).store("moog_concurrency", 4)
    ids = insert_alerts(8)
    standin.behave(503, after=3)  # waves of 1 and 2 go through; the wave of 4 fails
    report = forward(forwarder, ids)
    assert len(report.delivered) == 3
    assert sorted(r.alert_id for r in report.retries) == sorted(set(ids[3:7]))
    assert report.deferred == [Deferral((ids[7],), 2.0, MOOG_FAILING)]
    rows = alerts(ids)
    assert [rows[i].state for i in ids[3:]] == ["pending"] * 5
    assert [rows[i].attempts for i in ids[3:]] == [1, 1, 1, 1, 0]
    assert forwarder.breaker.snapshot()["failures"] == 4


def test_the_send_window_outlives_a_task_and_closes_to_one_after_a_failure(redis, standin, forwarder):
    dynconfig.runtime(redis).store("moog_concurrency", 4)
    window = SendWindow()
    make = lambda: Forwarder(redis, moog.MoogClient(standin.url, SECRET, timeout=2), window=window)  # noqa: E731
    forward(make(), insert_alerts(7))  # waves of 1, 2, 4
    assert window.size(4) == 4
    standin.behave(200, delay=0.5)
    started = time.monotonic()
    assert len(forward(make(), insert_alerts(4)).delivered) == 4
    assert time.monotonic() - started < 0.95  # one wave of four, not three (1, 2, 1: 1.5 s)
    standin.behave(503, times=1)
    failing = forward(make(), insert_alerts(4))
    assert len(failing.retries) == 1 and window.size(4) == 1


def test_with_a_batch_size_a_request_carries_several_alerts_as_an_events_list(redis, forwarder, standin):
    settings = dynconfig.runtime(redis)
    settings.store("moog_concurrency", 4)
    settings.store("moog_batch_size", 5)
    ids = insert_alerts(12)
    report = forward(forwarder, ids)
    assert sorted(report.delivered) == sorted(ids) and states(ids) == {"delivered": 12}
    assert sorted(external_ids(standin)) == sorted(ids)  # each once
    assert standin.state.requests == 3  # a wave of one request (5 alerts), then one of two (5 + 2)
    assert {a.attempts for a in alerts(ids).values()} == {1}


def test_one_alert_in_a_request_goes_as_its_own_event_whatever_the_batch_size(redis, forwarder, standin):
    dynconfig.runtime(redis).store("moog_batch_size", 50)
    [alert_id] = insert_alerts(1)
    assert forward(forwarder, [alert_id]).delivered == [alert_id]
    [received] = standin.received
    assert received.body["external_id"] == alert_id and "events" not in received.body  # v2.5's format


def test_a_refused_request_of_several_goes_again_one_alert_each_and_only_the_bad_one_is_a_dead_letter(
        redis, forwarder, standin):
    dynconfig.runtime(redis).store("moog_batch_size", 5)
    ids = insert_alerts(5)
    standin.behave(refuse=ids[2])  # Moogsoft refuses any request holding this alert
    report = forward(forwarder, ids)
    assert report.alone == ids and not report.delivered and not report.dead and not report.retries
    rows = alerts(ids)
    assert {a.state for a in rows.values()} == {"pending"} and {a.attempts for a in rows.values()} == {0}
    assert forwarder.breaker.snapshot()["failures"] == 0  # Moogsoft answered
    alone = [forward(forwarder, [alert_id]) for alert_id in ids]  # as tasks/forwarder.py hands them on
    assert [r.dead for r in alone] == [[], [], [ids[2]], [], []]
    assert states(ids) == {"delivered": 4, "dead": 1}
    assert dead_letters()[ids[2]].reason == "moog_rejected"


def test_a_request_of_several_that_fails_hands_each_of_its_alerts_to_the_retry_path(redis, forwarder, standin):
    dynconfig.runtime(redis).store("moog_batch_size", 3)
    ids = insert_alerts(3)
    standin.behave(503, times=1)
    report = forward(forwarder, ids)
    assert sorted(r.alert_id for r in report.retries) == sorted(ids) and not report.deferred
    assert {a.last_status for a in alerts(ids).values()} == {503}
    assert forwarder.breaker.snapshot()["failures"] == 1  # one request failed


def test_the_rate_limit_counts_alerts_not_requests(redis, forwarder, standin):
    settings = dynconfig.runtime(redis)
    settings.store("moog_batch_size", 10)
    settings.store("moog_rate_limit", 4)
    settings.store("moog_rate_period", 10)
    ids = insert_alerts(10)
    report = forward(forwarder, ids)
    assert report.delivered == ids[:4] and standin.state.requests == 1
    assert [d.alert_ids for d in report.deferred] == [tuple(ids[4:8]), tuple(ids[8:])]
