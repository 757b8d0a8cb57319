import json
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from mutt_app import dynconfig
from mutt_app.alerting.batches import EventBatches
from mutt_app.alerting.lifecycle import MAX_BATCH_CLAIMS
from mutt_app.dead_letters import dlq
from mutt_app.handoff import forward_alerts, process_batch
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.operations import janitor
from mutt_app.storage import partitions, redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, ConfigAudit, DeadLetter, EventAudit
from tasks.janitor import janitor as janitor_task
from tasks.janitor import queues
from tests.support.alerts import alerts, insert_alerts
from tests.support.recovery import make_alert, queued_alert_ids, queued_batch_ids


def run(**options):
    return janitor.run(options.pop("redis_client"), queues(), maintenance=False, **options)


def stuck_batch(batches, n=3, claims=1, start=0):
    """A batch whose worker died after ``claims`` claims (lease already over)."""
    buffer = EventBuffer(batches.redis)
    buffer.accept([json.dumps({"_id": f"e{i}", "message": "m"}) for i in range(start, start + n)],
                  key_id="k", rate_limit=0, rate_window=60, max_backlog=10_000)
    batch_id, _ = buffer.cut(n, lease_seconds=-1)
    for _ in range(claims):
        batches.claim(batch_id, lease_seconds=-1)
    return batch_id


def test_a_claimed_batch_past_its_lease_is_enqueued_again_with_a_new_lease(redis, sqlite_url):
    batches = EventBatches(redis)
    batch_id = stuck_batch(batches)
    report = run(redis_client=redis)
    assert report.batches_requeued == 1 and queued_batch_ids(redis) == [batch_id]
    assert batches.expired() == []
    assert run(redis_client=redis).batches_requeued == 0  # not again while the new lease runs


def test_an_unclaimed_batch_waits_while_the_alerts_queue_is_busy_unless_long_overdue(redis, sqlite_url):
    batches = EventBatches(redis)
    batch_id = stuck_batch(batches, claims=0)
    process_batch("someone-elses")
    assert run(redis_client=redis).batches_requeued == 0
    assert queued_batch_ids(redis) == ["someone-elses"]
    redis.zadd(redis_keys.BATCHES_PENDING, {batch_id: time.time() - 5 * dynconfig.get("janitor_stuck_after_seconds")})
    assert run(redis_client=redis).batches_requeued == 1
    assert queued_batch_ids(redis) == ["someone-elses", batch_id]


def test_an_unclaimed_batch_is_enqueued_when_the_alerts_queue_is_empty(redis, sqlite_url):
    batch_id = stuck_batch(EventBatches(redis), claims=0)
    assert run(redis_client=redis).batches_requeued == 1 and queued_batch_ids(redis) == [batch_id]


def test_a_batch_that_keeps_killing_workers_is_split_and_its_single_event_dead_lettered(redis, database_url):
    batches = EventBatches(redis)
    max_attempts = MAX_BATCH_CLAIMS + 1
    batch_id = stuck_batch(batches, n=3, claims=max_attempts)
    report = run(redis_client=redis)
    assert report.batches_split == 1
    singles = queued_batch_ids(redis)
    assert len(singles) == 3 and batch_id not in singles
    # the first event kills every worker that takes it
    crashy = next(b for b in singles if batches.claim(b, -1).events[0]["_id"] == "e0")
    for _ in range(max_attempts - 1):
        batches.claim(crashy, -1)
    report = run(redis_client=redis)
    assert report.events_dead_lettered == 1
    with session_scope() as session:
        [letter] = session.scalars(select(DeadLetter)).all()
        assert (letter.kind, letter.ref_id, letter.reason, letter.attempts) == ("event", "e0", "worker_lost", max_attempts)
        assert letter.payload["message"] == "m"
    assert EventBuffer(redis).stats()["dead_lettered"] == 1
    assert crashy not in {batch for batch, _ in batches.expired()}


def test_events_left_in_the_ingest_buffer_are_cut_and_dispatched(redis, sqlite_url):
    buffer = EventBuffer(redis)
    buffer.accept([json.dumps({"_id": f"e{i}"}) for i in range(250)], key_id="k", rate_limit=0,
                  rate_window=60, max_backlog=10_000)
    with session_scope() as session:
        dynconfig.change(session, "ingest_batch_size", 100, actor="test")
    report = run(redis_client=redis)
    assert report.buffered_events == 250 and buffer.buffered() == 0
    assert len(queued_batch_ids(redis)) == 3  # 100 + 100 + 50


def test_an_alert_whose_worker_died_goes_back_to_pending_and_is_enqueued(redis, database_url):
    with session_scope() as session:
        lost = make_alert(session, state="sending", lease_in=-1, attempts=1).id
        fine = make_alert(session, state="sending", lease_in=30, attempts=1).id
        delivered = make_alert(session, state="delivered", lease_in=-100).id
    report = run(redis_client=redis)
    assert report.alerts_requeued == 1 and queued_alert_ids(redis) == [lost]
    with session_scope() as session:
        alert = session.get(Alert, lost)
        assert alert.state == "pending" and alert.lease_until > datetime.now(UTC)
        assert session.get(Alert, fine).state == "sending"
        assert session.get(Alert, delivered).state == "delivered"


def test_a_pending_alert_past_its_lease_waits_while_the_moog_queue_is_busy(redis, sqlite_url):
    with session_scope() as session:
        waiting = make_alert(session, state="pending", lease_in=-1).id
    forward_alerts(["someone-elses"])
    assert run(redis_client=redis).alerts_requeued == 0
    with session_scope() as session:
        session.get(Alert, waiting).lease_until = datetime.now(UTC) - timedelta(hours=1)  # lost for long
    assert run(redis_client=redis).alerts_requeued == 1
    assert queued_alert_ids(redis) == ["someone-elses", waiting]


def test_an_alert_that_kills_its_worker_every_time_becomes_a_worker_lost_dead_letter(redis, database_url):
    max_attempts = dynconfig.get("janitor_max_attempts")
    with session_scope() as session:
        alert_id = make_alert(session, state="sending", lease_in=-1, attempts=1).id
    for attempt in range(1, max_attempts):
        assert run(redis_client=redis).alerts_requeued == 1
        with session_scope() as session:  # a worker claims it again, and dies again
            alert = session.get(Alert, alert_id)
            alert.state, alert.attempts = "sending", attempt + 1
            alert.lease_until = datetime.now(UTC) - timedelta(seconds=1)
    report = run(redis_client=redis)
    assert (report.alerts_requeued, report.alerts_dead_lettered) == (0, 1)
    with session_scope() as session:
        assert session.get(Alert, alert_id).state == "dead"
        [letter] = session.scalars(select(DeadLetter)).all()
        assert (letter.kind, letter.ref_id, letter.reason) == ("alert", alert_id, "worker_lost")
        assert letter.payload["hostname"] == "router1"
    assert redis.get(redis_keys.alert_losses(alert_id)) is None


def test_retention_deletes_old_rows_and_keeps_recent_ones_on_sqlite(redis, sqlite_url):
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=400), now - timedelta(days=1)
    with session_scope() as session:
        for stamp, suffix in ((old, "old"), (recent, "new")):
            session.add(EventAudit(event_id=f"ev-{suffix}", received_at=stamp, hostname="h", rule_id=1, rule_name="r",
                                   environment="prod", decision="forward", forwarded=True, team="t",
                                   correlation_id="c", event={}))
            session.add(ConfigAudit(changed_at=stamp, changed_by="x", operation="UPDATE", table_name="rules", record_id="1"))
            for state in ("replayed", "poison", "waiting"):
                session.add(DeadLetter(kind="event", ref_id=f"{state}-{suffix}", reason="shed", state=state,
                                       first_failed_at=stamp, last_failed_at=stamp))
    report = janitor.run(redis, queues(), maintenance=True)
    assert report.errors == []
    assert report.retention_deleted == {"event_audit": 1, "config_audit": 1, "dead_letters": 2}
    with session_scope() as session:
        assert session.scalars(select(EventAudit.event_id)).all() == ["ev-new"]
        assert session.scalar(select(func.count()).select_from(ConfigAudit)) == 1
        assert sorted(session.scalars(select(DeadLetter.ref_id))) == ["poison-new", "replayed-new", "waiting-new", "waiting-old"]


def test_alert_retention_deletes_finished_alerts_and_never_one_still_to_send(redis, database_url):
    """The outbox is pruned like the audit: delivered alerts, and dead ones whose dead letter is
    gone, once older than retention_alert_days; pending and sending alerts stay however old, and
    a dead alert stays while its dead letter can still replay it."""
    now = datetime.now(UTC)
    days = dynconfig.get("retention_alert_days")
    old, recent = now - timedelta(days=days + 1), now - timedelta(days=days - 1)
    made = {}
    for age, stamp in (("old", old), ("recent", recent)):
        for state in ("delivered", "dead", "pending", "sending"):
            made[(age, state)], = insert_alerts(1, state=state, created_at=stamp, updated_at=stamp,
                                                lease_until=stamp, delivered_at=stamp if state == "delivered" else None)
    held, = insert_alerts(1, state="dead", created_at=old, updated_at=old)  # its dead letter still waits
    with session_scope() as session:
        dlq.record(session, dlq.ALERT, held, dlq.RETRIES_EXHAUSTED, error="Moogsoft said 500", payload={"alert_id": held})

    report = janitor.run(redis, queues(), maintenance=True)
    assert report.errors == []
    assert report.retention_deleted == {"alerts": 2}
    left = set(alerts())
    assert left == set(made.values()) - {made[("old", "delivered")], made[("old", "dead")]} | {held}
    with session_scope() as session:  # the pending and sending ones are still there to send
        assert session.scalar(select(func.count()).select_from(Alert).where(Alert.state.in_(("pending", "sending")))) == 4

    with session_scope() as session:  # the dead letter purged: its alert goes at the next run
        dlq.purge(session, [session.scalar(select(DeadLetter.id).where(DeadLetter.ref_id == held))], actor="test", reason="handled")
    assert janitor.run(redis, queues(), maintenance=True).retention_deleted == {"alerts": 1}
    assert held not in alerts()
    assert janitor.run(redis, queues(), maintenance=True).retention_deleted == {}


def test_partitions_are_made_ahead_and_old_months_dropped_on_postgresql(redis, pg_url):
    now = datetime.now(UTC)
    long_ago = partitions.month_start(now.date(), -6)
    with session_scope() as session:
        partitions.ensure_ahead(session.connection(), months_ahead=0, today=long_ago)
        session.add(EventAudit(event_id="ancient", received_at=datetime(long_ago.year, long_ago.month, 2, tzinfo=UTC),
                               hostname="h", rule_id=1, rule_name="r", environment="prod", decision="forward",
                               forwarded=True, team="t", correlation_id="c", event={}))
    report = janitor.run(redis, queues(), maintenance=True)
    assert report.errors == []
    assert partitions.partition_name(long_ago) in report.partitions_dropped
    with session_scope() as session:
        have = partitions.existing(session.connection())
        for offset in range(janitor.PARTITION_MONTHS_AHEAD + 1):
            assert partitions.partition_name(partitions.month_start(now.date(), offset)) in have
        assert partitions.partition_name(long_ago) not in have
        assert session.scalar(text("SELECT count(*) FROM event_audit WHERE event_id = 'ancient'")) == 0


def test_the_task_records_its_run_and_skips_while_another_run_holds_the_lock(redis, sqlite_url):
    assert janitor_task.run() == {"recovered": 0, "errors": []}
    assert float(redis.get(redis_keys.job_last_run("janitor"))) > time.time() - 5
    with redis.lock(redis_keys.job_lock("janitor"), timeout=30):
        assert janitor_task.run() is None


def test_the_task_takes_the_dashboards_sample_when_one_is_due(redis, sqlite_url):
    insert_alerts(2)
    redis.hset(redis_keys.BREAKER, mapping={"state": "open"})
    janitor_task.run()
    samples = [json.loads(raw) for raw in redis.lrange(redis_keys.DASHBOARD_SAMPLES, 0, -1)]
    assert len(samples) == 1 and samples[0]["at"] > time.time() - 5
    assert {k: samples[0][k] for k in ("backlog", "waiting", "pending", "sending", "breaker")} == {
        "backlog": 0, "waiting": 2, "pending": 2, "sending": 0, "breaker": "open"}
    assert samples[0]["queues"]["moog"] >= 0
    janitor_task.run()
    assert redis.llen(redis_keys.DASHBOARD_SAMPLES) == 1, "the next run within 10 s takes none"
