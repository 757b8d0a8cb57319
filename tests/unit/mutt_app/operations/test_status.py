import json
import re
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from celeryconfig import ALERTS_QUEUE, MOOG_QUEUE, QUEUES
from mutt_app.celery_app import app
from mutt_app.cli import cli
from mutt_app.dead_letters import dlq
from mutt_app.operations import status
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert
from tests.support.alerts import insert_alerts


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
    now = datetime(2026, 11, 25, 20, 50, 30, tzinfo=UTC)
    redis.set(redis_keys.INGEST_BACKLOG, 250)
    redis.rpush(redis_keys.INGEST_BUFFER, "{}", "{}")
    redis.zadd(redis_keys.BATCHES_PENDING, {"b1": 1, "b2": 2})
    redis.set(redis_keys.ingest_rate("1m", "2026-11-25T20:49"), 600)
    redis.set(redis_keys.ingest_rate("1m", "2026-11-25T20:50"), 20)
    assert status.ingest(redis, now) == {"backlog": 250, "buffered": 2, "batches_pending": 2,
                                         "events_last_minute": 600, "events_this_minute": 20}


def test_database_parts_count_alerts_and_dead_letters_by_state(redis, sqlite_url):
    now = datetime.now(UTC)
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
    assert set(report) == {"time", "queues", "workers", "ingest", "listeners", "alerts", "dead_letters", "breaker",
                           "restarts", "forwarding", "problems"}
    assert report["listeners"] == {}  # no `mutt listen` ever ran
    assert report["workers"] == {}
    assert report["breaker"]["state"] == "closed"
    assert "no worker answered: nothing is being processed" in report["problems"]
    assert report["restarts"] == {}  # no `mutt up` here
    screen = CliRunner().invoke(cli, ["status", "--timeout", "0.3"])
    assert "no worker answered" in screen.output and "Circuit breaker closed" in screen.output
    assert "Forwarding      oldest waiting alert 0 s, 0 alerts dead-lettered in the last 300 s" in screen.output
    assert "Restarts" not in screen.output
    assert "Listeners" not in screen.output


def test_status_shows_what_each_listener_received_dropped_and_denied(redis, sqlite_url):
    redis.hset(redis_keys.LISTENER_STATS, mapping={"syslog-udp:received": 10, "syslog-udp:dropped": 3,
                                                   "syslog-tcp:received": 7, "syslog-tcp:denied": 1})
    assert status.listeners(redis) == {"syslog-tcp": {"received": 7, "dropped": 0, "denied": 1},
                                       "syslog-udp": {"received": 10, "dropped": 3, "denied": 0}}
    screen = CliRunner().invoke(cli, ["status", "--timeout", "0.3"]).output
    assert "  syslog-udp   received 10  dropped 3  denied 0" in screen


def test_status_shows_the_restarts_mutt_up_recorded_per_child(redis, sqlite_url):
    from mutt_app import config
    from mutt_app.operations import supervisor
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


def stalled_forwarder(now: datetime, **oldest) -> None:
    """Alerts waiting for Moogsoft, the oldest 10 minutes, none delivered for an hour."""
    insert_alerts(1, created_at=now - timedelta(minutes=10), **oldest)
    insert_alerts(3, created_at=now - timedelta(minutes=1))
    insert_alerts(1, state="delivered", created_at=now - timedelta(hours=1), delivered_at=now - timedelta(hours=1))


def test_a_forwarder_that_keeps_failing_is_a_problem_with_its_last_error(redis, sqlite_url):
    """Every send failing (retried with backoff, the breaker not yet open): today "Problems none"."""
    now = datetime.now(UTC)
    stalled_forwarder(now, attempts=7, last_status=503, last_error="HTTP 503: Service Unavailable")
    result = CliRunner().invoke(cli, ["status", "--timeout", "0.2"])
    assert result.exit_code == 1
    assert re.search(r"forwarding is stalled: an alert has waited 6\d\d s and none was delivered in the last 300 s "
                     r"\(7 attempts, last error: HTTP 503: Service Unavailable\)", result.output), result.output
    report = json.loads(CliRunner().invoke(cli, ["status", "--json", "--timeout", "0.2"]).output)
    assert report["forwarding"]["delivered_in_window"] is False
    assert 600 <= report["forwarding"]["oldest_waiting_seconds"] < 660


def test_alerts_never_sent_say_what_stops_them(redis, sqlite_url):
    """No endpoint (MOOG_WEBHOOK_URL empty): the alerts wait unsent, and status says where to look."""
    now = datetime.now(UTC)
    stalled_forwarder(now)
    with session_scope() as session:
        found = status.forwarding_problems(status.forwarding(session, 300, now))
    assert len(found) == 1 and "never sent: no Moogsoft endpoint set (MOOG_WEBHOOK_URL)" in found[0]


def test_alerts_that_all_become_dead_letters_are_a_problem(redis, sqlite_url):
    """Moogsoft refusing every alert (4xx): nothing waits, everything is dead-lettered at once."""
    now = datetime.now(UTC)
    with session_scope() as session:
        for n in range(4):
            dlq.record(session, "alert", f"a{n}", dlq.MOOG_REJECTED, error="HTTP 400", last_status=400)
        found = status.forwarding_problems(status.forwarding(session, 300, now))
    assert found == ["forwarding is failing: 4 alerts became dead letters in the last 300 s and none was "
                     "delivered (mutt dlq list)"]


def test_forwarding_that_delivers_is_no_problem_however_long_an_alert_waited(redis, sqlite_url):
    """A backlog behind the rate limit, or a retried alert, while others get through: not stalled."""
    now = datetime.now(UTC)
    stalled_forwarder(now, attempts=3, last_error="timeout")
    with session_scope() as session:
        dlq.record(session, "alert", "a0", dlq.MOOG_REJECTED, error="HTTP 400", last_status=400)
    insert_alerts(1, state="delivered", delivered_at=now - timedelta(seconds=20))
    with session_scope() as session:
        part = status.forwarding(session, 300, now)
    assert part["delivered_in_window"] is True and status.forwarding_problems(part) == []


def test_while_nothing_looks_wrong_the_delivered_rows_are_not_read(redis, sqlite_url):
    now = datetime.now(UTC)
    insert_alerts(2, created_at=now - timedelta(seconds=30))
    with session_scope() as session:
        part = status.forwarding(session, 300, now)
    assert part["delivered_in_window"] is None and status.forwarding_problems(part) == []


def test_a_half_open_breaker_is_a_problem(redis, sqlite_url):
    from mutt_app.forwarding.breaker import CircuitBreaker

    redis.hset(redis_keys.BREAKER, mapping={"state": "half_open"})
    assert CircuitBreaker(redis).state() == "half_open"
    report = status.gather(app, redis, QUEUES, worker_timeout=0.2)
    assert "the circuit breaker is half-open: Moogsoft was failing, one probe is testing it" in report["problems"]
