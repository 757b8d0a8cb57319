"""Replay: dead letters back into the pipeline (events into a batch, alerts back to pending), audited."""

import pytest
from sqlalchemy import select

from mutt_app import dynconfig
from mutt_app.alerting.batches import EventBatches
from mutt_app.dead_letters import dlq
from mutt_app.handoff import replay_pipeline
from mutt_app.remediation import replay
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, ConfigAudit, DeadLetter
from tests.support.recovery import alert_letter, event_letter, queued_alert_ids, queued_batch_ids


def test_replaying_an_event_puts_it_back_into_a_batch_with_its_own_id(redis, database_url):
    with session_scope() as session:
        letter_id = event_letter(session, "ev-42").id
    with session_scope() as session:
        outcome = replay.replay(session, [letter_id], actor="user:alice", reason="bug fixed", pipeline=replay_pipeline())
    assert outcome.replayed == [letter_id] and outcome.skipped == {}
    [batch_id] = queued_batch_ids(redis)
    [event] = EventBatches(redis).claim(batch_id, 60).events
    assert event["_id"] == "ev-42" and event["_source"] == "replay" and event["message"] == "boom"
    with session_scope() as session:
        letter = dlq.get(session, letter_id)
        assert (letter.state, letter.replays) == ("replayed", 1)
        assert letter.next_replay_at is not None
        [row] = session.scalars(select(ConfigAudit).where(ConfigAudit.table_name == "dead_letters")).all()
        assert (row.changed_by, row.operation, row.record_id, row.reason) == ("user:alice", "UPDATE", str(letter_id), "bug fixed")
        assert row.old_values["state"] == "waiting" and row.new_values["state"] == "replayed"


def test_replaying_an_alert_resets_it_to_pending_and_enqueues_it_after_commit(redis, database_url):
    with session_scope() as session:
        alert, letter = alert_letter(session)
        alert_id, letter_id = alert.id, letter.id
    with session_scope() as session:
        replay.replay(session, [letter_id], actor="cli", pipeline=replay_pipeline())
        assert queued_alert_ids(redis) == []  # not before the commit
    assert queued_alert_ids(redis) == [alert_id]
    with session_scope() as session:
        alert = session.get(Alert, alert_id)
        assert (alert.state, alert.attempts) == ("pending", 0)
        assert alert.lease_until is not None


def test_a_rolled_back_replay_enqueues_no_alert(redis, sqlite_url):
    with session_scope() as session:
        _, letter = alert_letter(session)
        letter_id = letter.id
    with pytest.raises(RuntimeError), session_scope() as session:
        replay.replay(session, [letter_id], actor="cli", pipeline=replay_pipeline())
        raise RuntimeError("the database refused the commit")
    assert queued_alert_ids(redis) == []
    with session_scope() as session:
        assert dlq.get(session, letter_id).state == "waiting"


@pytest.mark.parametrize("reason", [dlq.MOOG_REJECTED, dlq.INVALID_EVENT])
def test_permanent_failures_are_replayed_only_with_force(redis, sqlite_url, reason):
    with session_scope() as session:
        if reason == dlq.MOOG_REJECTED:
            _, letter = alert_letter(session, reason)
        else:
            letter = event_letter(session, "bad", reason, timestamp="2025-01-15T14:30:22Z")
        letter_id = letter.id
    with session_scope() as session:
        outcome = replay.replay(session, [letter_id], actor="cli", pipeline=replay_pipeline())
        assert outcome.replayed == [] and "force" in outcome.skipped[letter_id]
        assert dlq.get(session, letter_id).state == "waiting"
    with session_scope() as session:
        assert replay.replay(session, [letter_id], actor="cli", force=True, pipeline=replay_pipeline()).replayed == [letter_id]


def test_replay_reports_unknown_ids_and_replayed_letters_without_touching_them(redis, sqlite_url):
    with session_scope() as session:
        letter_id = event_letter(session).id
        replay.replay(session, [letter_id], actor="cli", pipeline=replay_pipeline())
    with session_scope() as session:
        outcome = replay.replay(session, [letter_id, 999], actor="cli", pipeline=replay_pipeline())
        assert outcome.replayed == []
        assert outcome.skipped == {999: "no such dead letter",
                                   letter_id: "already replayed and not failed again: replay with force"}
        assert dlq.get(session, letter_id).replays == 1


def test_a_replayed_letter_that_fails_again_waits_again_and_keeps_its_replay_count(redis, sqlite_url):
    with session_scope() as session:
        letter_id = event_letter(session, "ev1").id
        replay.replay(session, [letter_id], actor="cli", pipeline=replay_pipeline())
    with session_scope() as session:
        event_letter(session, "ev1")
        letter = dlq.get(session, letter_id)
        assert (letter.state, letter.replays) == ("waiting", 1)


def test_an_event_replay_refused_by_a_full_backlog_is_skipped_and_still_waits(redis, sqlite_url):
    redis.set(redis_keys.INGEST_BACKLOG, 10_000_000)
    with session_scope() as session:
        letter_id = event_letter(session).id
        outcome = replay.replay(session, [letter_id], actor="cli", pipeline=replay_pipeline())
        assert "backlog is full" in outcome.skipped[letter_id]
        assert dlq.get(session, letter_id).state == "waiting"
    assert queued_batch_ids(redis) == []


def test_many_replays_report_progress_and_go_out_in_full_batches(redis, sqlite_url):
    with session_scope() as session:
        ids = [event_letter(session, f"e{i}").id for i in range(450)]
    seen = []
    with session_scope() as session:
        outcome = replay.replay(session, ids, actor="cli", pipeline=replay_pipeline(),
                                progress=lambda done, total: seen.append((done, total)))
    assert len(outcome.replayed) == 450
    assert seen == [(200, 450), (400, 450), (450, 450)]
    batches = EventBatches(redis)
    replayed = [event["_id"] for batch_id in queued_batch_ids(redis) for event in batches.claim(batch_id, 60).events]
    assert sorted(replayed) == sorted(f"e{i}" for i in range(450))


FORGED = {"_received_at": "1999-01-01T00:00:00+00:00", "_key": "someone-else", "_id": "chosen-id",
          "_correlation_id": "forged", "_source": "ingest"}


def invalid_letter(session, ref_id: str, item) -> int:
    """What ingest stores for a rejected item of a batch: the item as sent."""
    dlq.record_many(session, dlq.EVENT, dlq.INVALID_EVENT, [(ref_id, item, "item 0: timestamp: required")])
    session.flush()
    return session.scalar(select(DeadLetter.id).where(DeadLetter.ref_id == ref_id))


def test_a_forced_replay_of_an_invalid_event_goes_through_ingests_checks_and_cannot_forge_mutts_fields(redis, database_url):
    sent = {"hostname": " h1 ", "message": "link down", "timestamp": 1736951422, "syslog_severity": "err", **FORGED}
    with session_scope() as session:
        letter_id = invalid_letter(session, "ref-1", sent)
        first_failed = dlq.get(session, letter_id).first_failed_at
    with session_scope() as session:
        outcome = replay.replay(session, [letter_id], actor="cli", force=True, pipeline=replay_pipeline(), correlation_id="op-7")
    assert outcome.replayed == [letter_id]
    [batch_id] = queued_batch_ids(redis)
    [event] = EventBatches(redis).claim(batch_id, 60).events
    assert (event["_id"], event["_key"], event["_source"], event["_correlation_id"]) == ("ref-1", "replay", "replay", "op-7")
    assert event["_received_at"] == first_failed.isoformat() != FORGED["_received_at"]
    # normalised as ingest would: trimmed host, ISO timestamp, numeric severity
    assert (event["hostname"], event["timestamp"], event["syslog_severity"]) == ("h1", "2025-01-15T14:30:22+00:00", 3)


@pytest.mark.parametrize("item, why", [
    ({"message": "no host", "timestamp": 1, **FORGED}, "hostname: required"),
    ({"hostname": "h", "message": "m", "timestamp": "last tuesday"}, "timestamp: not a date/time"),
])
def test_a_forced_replay_of_a_still_invalid_event_is_skipped_with_the_reason_and_queues_nothing(redis, sqlite_url, item, why):
    with session_scope() as session:
        letter_id = invalid_letter(session, "ref-2", item)
    with session_scope() as session:
        outcome = replay.replay(session, [letter_id], actor="cli", force=True, pipeline=replay_pipeline())
        assert outcome.replayed == [] and outcome.skipped[letter_id].startswith(f"still not a valid event: {why}")
        assert dlq.get(session, letter_id).state == "waiting"
    assert queued_batch_ids(redis) == [] and redis.llen(redis_keys.INGEST_BUFFER) == 0


def test_a_forced_replay_of_an_invalid_event_over_max_event_bytes_is_skipped(redis, sqlite_url):
    with session_scope() as session:
        dynconfig.change(session, "max_event_bytes", 1024, actor="test")
        letter_id = invalid_letter(session, "ref-3", {"hostname": "h", "message": "x" * 2000, "timestamp": 1})
    with session_scope() as session:
        outcome = replay.replay(session, [letter_id], actor="cli", force=True, pipeline=replay_pipeline())
    assert outcome.skipped[letter_id].startswith("still not a valid event: event: ")
    assert "at most 1024 (max_event_bytes)" in outcome.skipped[letter_id] and queued_batch_ids(redis) == []


def test_an_event_letter_holding_infinity_from_an_older_release_is_not_replayed_as_bare_infinity(redis, sqlite_url):
    with session_scope() as session:
        letter_id = event_letter(session, "ev-inf", load=float("inf")).id  # SQLite's JSON keeps it
    with session_scope() as session:
        outcome = replay.replay(session, [letter_id], actor="cli", pipeline=replay_pipeline())
    assert outcome.skipped == {letter_id: replay.NOT_JSON} and replay.NOT_JSON in replay.CANNOT_REPLAY
    assert redis.llen(redis_keys.INGEST_BUFFER) == 0 and queued_batch_ids(redis) == []
