"""Source heartbeats: the store, recording per batch, and the checker (on a clock that stands still)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mutt_app.alerting import alert_queries
from mutt_app.operations import heartbeats
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, ConfigAudit
from mutt_app.suppression import silence_store


def add(clock=None, **fields):
    fields.setdefault("interval_seconds", 60)
    fields.setdefault("comment", "core router, always chatty")
    with session_scope() as session:
        row = heartbeats.create(session, fields, actor="alice", reason="watch it", **({"clock": clock} if clock else {}))
        return heartbeats.to_dict(row)


def check(redis, clock, **options):
    with session_scope() as session:
        return heartbeats.check(session, redis, team="NETO", alert_lease_seconds=45, clock=clock, **options)


def run_for(redis, clock, seconds, **options):
    """Let ``seconds`` pass with the checker running every 5 s, as beat runs it; what it did."""
    total = heartbeats.Report()
    for _ in range(round(seconds / heartbeats.CHECK_EVERY)):
        clock.advance(heartbeats.CHECK_EVERY)
        report = check(redis, clock, **options)
        total.raised += report.raised
        total.cleared += report.cleared
        total.silenced += report.silenced
    return total


def alerts_sent():
    with session_scope() as session:
        return [(a.signature, a.severity, a.kind) for a in session.scalars(select(Alert).order_by(Alert.created_at))]


@pytest.fixture
def watching(redis, sqlite_url, clock):
    """A heartbeat on core-rtr-01 (every 60 s), and a first run of the checker that baselines."""
    add(clock, hostname="Core-RTR-01")
    assert check(redis, clock).rebaselined  # the first run starts every clock
    return heartbeats.Recorder(redis, clock)


def test_a_quiet_source_raises_one_alert_per_quiet_spell_and_its_next_event_clears_it(redis, clock, watching):
    run_for(redis, clock, 30)
    assert watching.seen([{"hostname": "core-rtr-01"}]) == 1
    assert run_for(redis, clock, 55).raised == []
    assert run_for(redis, clock, 5).raised == ["core-rtr-01"]  # 60 s since it was heard from
    assert run_for(redis, clock, 300).raised == []  # still quiet: no second alert
    watching.seen([{"hostname": "CORE-RTR-01", "message": "back"}])
    assert run_for(redis, clock, 5).cleared == ["core-rtr-01"]
    assert alerts_sent() == [("mutt:heartbeat:core-rtr-01", 4, "heartbeat"), ("mutt:heartbeat:core-rtr-01", 0, "heartbeat")]
    assert run_for(redis, clock, 60).raised == ["core-rtr-01"]  # a new quiet spell, a new alert


def test_operators_see_the_quiet_spell_as_an_alert_open_then_cleared(redis, clock, watching):
    def alert_as_listed():
        with session_scope() as session:
            (found,) = alert_queries.search(session, {"host": "core-rtr-01"}).alerts
            return found
    run_for(redis, clock, 65)
    opened = alert_as_listed()
    assert (opened["state"], opened["signature"], opened["kind"]) == ("open", "mutt:heartbeat:core-rtr-01", "heartbeat")
    assert "quiet since" in opened["description"]
    watching.seen([{"hostname": "core-rtr-01"}])
    run_for(redis, clock, 5)
    assert alert_as_listed()["state"] == "cleared"
    run_for(redis, clock, 65)
    assert alert_as_listed()["state"] == "open"  # the next quiet spell reopens the same alert


def test_the_alert_says_since_when_the_source_is_quiet(redis, clock, watching):
    run_for(redis, clock, 65)
    with session_scope() as session:
        alert = session.scalars(select(Alert)).one()
        assert "quiet since" in alert.description and alert.team == "NETO"
        assert heartbeats.to_dict(heartbeats.list_all(session)[0])["quiet"] is True


def test_a_source_heard_from_stays_silent_and_other_sources_do_not_count(redis, clock, watching):
    for _ in range(10):
        assert watching.seen([{"hostname": "core-rtr-01"}, {"hostname": "other"}]) == 1
        assert run_for(redis, clock, 30).raised == []
    assert redis.zscore(redis_keys.HEARTBEATS_LAST_SEEN, "hostname:other") is None


def test_a_source_by_sender_name_is_heard_from_through_its_api_key_or_listener(redis, clock, watching):
    add(clock, source="relay-a", interval_seconds=20)
    run_for(redis, clock, 15)
    watching.seen([{"hostname": "whatever", "_key": "relay-a"}])
    assert run_for(redis, clock, 15).raised == []
    assert run_for(redis, clock, 10).raised == ["relay-a"]


def test_a_checker_that_did_not_run_for_long_rebaselines_instead_of_alerting_for_everything(redis, clock, watching):
    clock.advance(600)  # MUTT was down for ten minutes
    report = check(redis, clock)
    assert report.rebaselined and report.raised == []
    assert run_for(redis, clock, 55).raised == []
    assert run_for(redis, clock, 10).raised == ["core-rtr-01"]  # a whole interval since MUTT came back


def test_a_clock_stepped_forward_rebaselines_too(redis, clock, watching):
    watching.seen([{"hostname": "core-rtr-01"}])
    clock.advance(3600)
    assert check(redis, clock).rebaselined
    watching.seen([{"hostname": "core-rtr-01"}])
    assert run_for(redis, clock, 30).raised == []


def test_a_clock_stepped_back_does_not_raise_false_alarms(redis, clock, watching):
    run_for(redis, clock, 50)
    watching.seen([{"hostname": "core-rtr-01"}])
    clock.advance(-3600)  # an hour back: events recorded after it must still count
    assert check(redis, clock).rebaselined
    for _ in range(5):
        watching.seen([{"hostname": "core-rtr-01"}])
        assert run_for(redis, clock, 30).raised == []


def test_a_source_never_heard_from_starts_its_clock_when_watched(redis, clock, watching):
    run_for(redis, clock, 45)
    add(clock, hostname="new-box", interval_seconds=30)
    assert "new-box" not in run_for(redis, clock, 25).raised
    assert "new-box" in run_for(redis, clock, 5).raised


def test_a_silenced_alert_is_not_raised_and_is_raised_once_the_silence_ends(redis, clock, watching):
    muted = run_for(redis, clock, 65, silenced=lambda alert: "silence-7" if alert["hostname"] == "core-rtr-01" else None)
    assert "core-rtr-01" in muted.silenced and muted.raised == [] and alerts_sent() == []
    assert run_for(redis, clock, 5).raised == ["core-rtr-01"]


def test_a_silence_on_the_host_mutes_its_heartbeat_alert_and_one_on_another_host_does_not(redis, clock, watching):
    add(clock, source="rsyslog-dc1")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    with session_scope() as session:
        for matcher in ({"field": "hostname", "op": "=", "value": "core-rtr-01"},
                        {"field": "source", "op": "=", "value": "rsyslog-dc9"}):
            silence_store.create(session, {"matchers": [matcher], "ends_at": tomorrow, "comment": "work"},
                                 actor="alice")
        silenced = heartbeats.silenced_by(silence_store.load(session))
    outcome = run_for(redis, clock, 65, silenced=silenced)
    assert set(outcome.silenced) == {"core-rtr-01"} and outcome.raised == ["rsyslog-dc1"]


def test_a_shorter_interval_counts_from_when_the_source_was_last_heard_from(redis, clock, watching):
    watching.seen([{"hostname": "core-rtr-01"}])
    run_for(redis, clock, 20)
    with session_scope() as session:
        heartbeats.update(session, heartbeats.list_all(session)[0].id, {"interval_seconds": 30}, actor="bob", clock=clock)
    assert run_for(redis, clock, 5).raised == []
    assert run_for(redis, clock, 5).raised == ["core-rtr-01"]  # 30 s after it was last heard from


def test_a_removed_heartbeat_is_no_longer_watched(redis, clock, watching):
    with session_scope() as session:
        heartbeats.remove(session, heartbeats.list_all(session)[0].id, actor="alice")
    assert watching.seen([{"hostname": "core-rtr-01"}]) == 0
    assert run_for(redis, clock, 120).raised == []


def test_a_redis_that_lost_the_watch_list_gets_it_back_from_the_database(redis, clock, watching):
    redis.delete(redis_keys.HEARTBEATS_WATCHED, redis_keys.HEARTBEATS_SYNCED, redis_keys.HEARTBEATS_DUE)
    run_for(redis, clock, 5)
    assert watching.seen([{"hostname": "core-rtr-01"}]) == 1


def test_every_change_is_audited_with_who_and_why(redis, sqlite_url):
    created = add(hostname="edge-1", severity=5)
    with session_scope() as session:
        heartbeats.update(session, created["id"], {"interval_seconds": 120}, actor="bob", reason="slower")
        heartbeats.remove(session, created["id"], actor="carol", reason="decommissioned")
        rows = session.scalars(select(ConfigAudit).where(ConfigAudit.table_name == "heartbeats").order_by(ConfigAudit.id))
        assert [(r.operation, r.changed_by, r.reason) for r in rows] == [
            ("CREATE", "alice", "watch it"), ("UPDATE", "bob", "slower"), ("DELETE", "carol", "decommissioned")]


@pytest.mark.parametrize(("fields", "message"), [
    ({"hostname": "a", "interval_seconds": 9}, "interval_seconds must be between 10"),
    ({"hostname": "a", "interval_seconds": 1e400}, "interval_seconds"),
    ({"hostname": "a", "interval_seconds": "soon"}, "interval_seconds must be a whole number"),
    ({"hostname": "a", "interval_seconds": 10**9}, "interval_seconds must be between"),
    ({"hostname": "a", "severity": 0}, "severity must be between 1 and 5"),
    ({"hostname": "a", "comment": ""}, "comment is required"),
    ({"interval_seconds": 60}, "exactly one of hostname"),
    ({"hostname": "a", "source": "b"}, "exactly one of hostname"),
    ({"hostname": "a\nb"}, "hostname must be"),
    ({"hostname": "a", "colour": "red"}, "unknown field(s): colour"),
])
def test_a_heartbeat_is_refused_with_a_message_naming_the_field(redis, sqlite_url, fields, message):
    with pytest.raises(heartbeats.HeartbeatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        add(**fields)


def test_a_second_heartbeat_for_the_same_source_is_a_conflict(redis, sqlite_url):
    add(hostname="edge-1")
    with pytest.raises(heartbeats.HeartbeatExists):
        add(hostname="EDGE-1")


def alerter_batch(redis, hostname):
    """A batch of one event from ``hostname``, run through the alerter as its task does."""
    import json
    from datetime import UTC, datetime

    from mutt_app.ingest.buffer import EventBuffer
    from tasks.alerter import _lifecycle

    now = datetime.now(UTC).isoformat()
    buffer = EventBuffer(redis)
    buffer.accept([json.dumps({"_id": "e1", "_correlation_id": "c1", "_received_at": now, "timestamp": now,
                               "hostname": hostname, "message": "hello", "_key": "rsyslog-dc1"})],
                  key_id="k", rate_limit=0, rate_window=60, max_backlog=1000)
    batch_id, _ = buffer.cut(1, lease_seconds=60)
    return _lifecycle().run(batch_id).status


def test_the_alerter_records_who_it_heard_from_in_each_batch(redis, sqlite_url):
    add(hostname="edge-7")
    add(source="rsyslog-dc1")
    assert alerter_batch(redis, "EDGE-7") == "processed"
    assert redis.zscore(redis_keys.HEARTBEATS_LAST_SEEN, "hostname:edge-7") is not None
    assert redis.zscore(redis_keys.HEARTBEATS_LAST_SEEN, "source:rsyslog-dc1") is not None


def test_a_failure_to_record_does_not_fail_the_batch(redis, sqlite_url, monkeypatch):
    def redis_refuses(self, events):
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(heartbeats.Recorder, "seen", redis_refuses)
    assert alerter_batch(redis, "edge-7") == "processed"
