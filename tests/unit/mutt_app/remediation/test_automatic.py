from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mutt_app import dynconfig
from mutt_app.dead_letters import dlq
from mutt_app.forwarding.breaker import CircuitBreaker
from mutt_app.handoff import replay_pipeline
from mutt_app.remediation import automatic
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, DeadLetter
from tasks.remediation import breaker_state, remediate
from tests.support.recovery import make_alert, queued_alert_ids, queued_batch_ids


def letter_for_event(session, event_id, reason=dlq.PROCESSING_FAILED):
    dlq.record(session, dlq.EVENT, event_id, reason, payload={"_id": event_id, "message": "m"})


def letter_for_alert(session, reason=dlq.RETRIES_EXHAUSTED):
    alert = make_alert(session, state="dead")
    dlq.record(session, dlq.ALERT, alert.id, reason, payload={"alert_id": alert.id}, last_status=503)
    return alert.id


def run(now=None):
    with session_scope() as session:
        return automatic.run(session, replay_pipeline(), breaker_state=breaker_state(), now=now)


def letters(session):
    return {letter.ref_id: letter for letter in session.scalars(select(DeadLetter))}


def test_replays_cleared_alert_and_event_letters_but_never_permanent_ones(redis, database_url):
    with session_scope() as session:
        lost = letter_for_alert(session, dlq.WORKER_LOST)
        exhausted = letter_for_alert(session, dlq.RETRIES_EXHAUSTED)
        rejected = letter_for_alert(session, dlq.MOOG_REJECTED)
        letter_for_event(session, "failed")
        letter_for_event(session, "shed", dlq.SHED)
        letter_for_event(session, "invalid", dlq.INVALID_EVENT)
    report = run()
    assert len(report.replayed) == 4
    assert sorted(queued_alert_ids(redis)) == sorted([lost, exhausted])
    assert len(queued_batch_ids(redis)) == 1
    with session_scope() as session:
        by_ref = letters(session)
        assert by_ref[rejected].state == by_ref["invalid"].state == "waiting"
        assert {by_ref[ref].state for ref in (lost, exhausted, "failed", "shed")} == {"replayed"}
        assert session.get(Alert, rejected).state == "dead"


def test_an_open_breaker_holds_alert_letters_back_and_sends_nothing_to_moog(redis, sqlite_url):
    breaker = CircuitBreaker(redis)
    for _ in range(dynconfig.get("circuit_breaker_threshold")):
        breaker.record_failure()
    assert breaker.state() == "open"
    with session_scope() as session:
        letter_for_alert(session)
        letter_for_event(session, "e1")
    report = run()
    assert queued_alert_ids(redis) == []
    assert len(report.replayed) == 1 and "circuit breaker is open" in report.held_back[0]
    with session_scope() as session:
        assert [letter.state for letter in letters(session).values() if letter.kind == "alert"] == ["waiting"]


def test_shed_events_wait_while_the_alerts_for_moog_are_still_many(redis, sqlite_url):
    with session_scope() as session:
        dynconfig.change(session, "alerter_queue_warn_threshold", 2, actor="test")
        for _ in range(2):
            make_alert(session)
        letter_for_event(session, "shed", dlq.SHED)
    report = run()
    assert report.replayed == [] and "shed" in report.held_back[0]


def test_replays_are_spaced_with_growing_backoff_and_poison_after_max_replays(redis, database_url):
    with session_scope() as session:
        dynconfig.change(session, "remediation_interval", 60, actor="test")
        dynconfig.change(session, "remediation_max_replays", 3, actor="test")
        letter_for_event(session, "crashy")
    now = datetime.now(UTC)
    waits, poisoned = [], []
    for _ in range(3):
        assert len(run(now).replayed) == 1
        with session_scope() as session:
            letter = letters(session)["crashy"]
            waits.append((letter.next_replay_at - now).total_seconds())
            letter_for_event(session, "crashy")  # the replay failed again
        early = run(now + timedelta(seconds=waits[-1] - 1))
        assert early.replayed == []  # not before its time
        poisoned.append(early.poisoned)
        now += timedelta(seconds=waits[-1])
    assert [round(w) for w in waits] == [60, 120, 240]
    assert poisoned == [0, 0, 1]  # failed after its third replay: parked at once
    with session_scope() as session:
        letter = letters(session)["crashy"]
        assert (letter.state, letter.replays) == ("poison", 3)
    assert run(now + timedelta(days=1)).replayed == []  # parked for a human, never again


def test_at_most_batch_size_per_run(redis, sqlite_url):
    with session_scope() as session:
        dynconfig.change(session, "remediation_batch_size", 5, actor="test")
        for i in range(12):
            letter_for_event(session, f"e{i}")
    assert [len(run().replayed) for _ in range(4)] == [5, 5, 2, 0]


def test_a_letter_whose_alert_is_gone_is_parked_not_retried_every_run(redis, sqlite_url):
    with session_scope() as session:
        alert_id = letter_for_alert(session)
        session.delete(session.get(Alert, alert_id))
    report = run()
    assert report.replayed == [] and report.poisoned == 1


def test_the_task_runs_once_per_interval_and_records_the_run(redis, sqlite_url):
    with session_scope() as session:
        letter_for_event(session, "e1")
    assert remediate.run() == {"replayed": 1, "skipped": 0, "poisoned": 0}
    with session_scope() as session:
        letter_for_event(session, "e2")
    assert remediate.run() is None  # remediation_interval (60 s) has not passed
