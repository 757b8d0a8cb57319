import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from celeryconfig import ALERTS_QUEUE, MOOG_QUEUE, QUEUES
from mutt_app import dlq, keys, status
from mutt_app.celery_app import app
from mutt_app.cli import cli
from mutt_app.db import session_scope
from mutt_app.models import Alert


def alert(alert_id: str, state: str, delivered_at=None) -> Alert:
    return Alert(id=alert_id, state=state, hostname="h", team="t", decision="d", environment="prod",
                 signature="s", description="x", correlation_id="c", event={}, delivered_at=delivered_at)


def test_queue_depths_count_waiting_messages_and_an_empty_redis_queue_is_zero(redis):
    for _ in range(3):
        app.send_task("mutt.forward_alerts", args=[["a"]], queue=MOOG_QUEUE)
    depths = status.queue_depths(app, QUEUES)
    assert depths["waiting"] == {ALERTS_QUEUE: 0, MOOG_QUEUE: 3, "janitor": 0, "remediation": 0}
    assert depths["unacked"] == 0


def test_ingest_reads_backlog_buffer_batches_and_minute_counters(redis):
    now = datetime(2026, 11, 25, 20, 50, 30, tzinfo=timezone.utc)
    redis.set(keys.INGEST_BACKLOG, 250)
    redis.rpush(keys.INGEST_BUFFER, "{}", "{}")
    redis.zadd(keys.BATCHES_PENDING, {"b1": 1, "b2": 2})
    redis.set(keys.ingest_rate("1m", "2026-11-25T20:49"), 600)
    redis.set(keys.ingest_rate("1m", "2026-11-25T20:50"), 20)
    assert status.ingest(redis, now) == {"backlog": 250, "buffered": 2, "batches_pending": 2,
                                         "events_last_minute": 600, "events_this_minute": 20}


def test_database_parts_count_alerts_and_dead_letters_by_state(redis, sqlite_url):
    now = datetime.now(timezone.utc)
    with session_scope() as session:
        session.add_all([alert("1", "pending"), alert("2", "pending"), alert("3", "sending"),
                         alert("4", "delivered", now - timedelta(seconds=10)),
                         alert("5", "delivered", now - timedelta(minutes=5))])
        dlq.record(session, "event", "e1", dlq.INVALID_EVENT, error="bad")
    with session_scope() as session:
        assert status.alerts(session, now) == {"pending": 2, "sending": 1, "delivered_last_minute": 1}
        assert status.dead_letters(session) == {"waiting": 1, "replayed": 0, "poison": 0}


def test_status_without_workers_says_so_and_exits_1(redis, sqlite_url):
    result = CliRunner().invoke(cli, ["status", "--json", "--timeout", "0.3"])
    report = json.loads(result.output)
    assert result.exit_code == 1
    assert set(report) == {"time", "queues", "workers", "ingest", "alerts", "dead_letters", "breaker", "restarts",
                           "problems"}
    assert report["workers"] == {}
    assert report["breaker"]["state"] == "closed"
    assert "no worker answered: nothing is being processed" in report["problems"]
    assert report["restarts"] == {}  # no `mutt up` here
    screen = CliRunner().invoke(cli, ["status", "--timeout", "0.3"])
    assert "no worker answered" in screen.output and "Circuit breaker closed" in screen.output
    assert "Restarts" not in screen.output


def test_status_shows_the_restarts_mutt_up_recorded_per_child(redis, sqlite_url):
    from mutt_app import config, supervisor

    home = config.get().home
    home.mkdir(parents=True, exist_ok=True)
    record = supervisor.Supervisor(home / supervisor.RESTARTS_FILE)
    record.children += [supervisor.Child("web", launch=None),
                        supervisor.Child("worker", launch=None, restarts=[1.0, 2.0], last_exit=-9)]
    record.record()
    try:
        screen = CliRunner().invoke(cli, ["status", "--timeout", "0.3"]).output
        report = json.loads(CliRunner().invoke(cli, ["status", "--json", "--timeout", "0.3"]).output)
    finally:
        (home / supervisor.RESTARTS_FILE).unlink()
    assert f"Restarts        web 0  worker 2 (last exit -9)  (mutt up running since {record.started_at})" in screen
    assert report["restarts"]["children"]["worker"] == {"pid": None, "restarts": 2, "last_exit": -9}


def test_a_part_that_cannot_be_read_is_named_and_the_rest_still_shown(redis, sqlite_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    from mutt_app import config

    config.reset()
    report = status.gather(app, redis, QUEUES, worker_timeout=0.2)
    assert "error" in report["alerts"] and "error" in report["dead_letters"]
    assert report["ingest"]["backlog"] == 0
    assert any(p.startswith("cannot read alerts:") for p in report["problems"])
    config.reset()
