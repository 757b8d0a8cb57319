"""The dashboard's numbers: "now" as the last 60 s, the alerts by outbox state in one grouped
query, the samples, and the whole picture the page draws (real Redis, SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from celeryconfig import MOOG_QUEUE, QUEUES
from mutt_app.celery_app import app
from mutt_app.operations import dashboard, timeline
from mutt_app.storage import db, redis_keys
from mutt_app.storage.db import session_scope
from tests.support.alerts import insert_alerts

NOW = datetime(2026, 12, 4, 12, 30, 15, tzinfo=UTC)


def test_now_is_the_last_60_seconds_not_the_calendar_minute(redis):
    redis.set(redis_keys.ingest_rate("1m", "2026-12-04T12:29"), 600)
    redis.set(redis_keys.ingest_rate("1m", "2026-12-04T12:30"), 20)
    # 15 s into the minute: this minute's 20 and three quarters of the previous minute's 600
    assert dashboard.events_last_60s(redis, NOW) == 20 + 450
    assert dashboard.events_last_60s(redis, NOW.replace(second=0)) == 20 + 600
    assert dashboard.events_last_60s(redis, NOW.replace(second=54)) == 20 + 60
    assert dashboard.events_last_60s(redis, NOW + timedelta(minutes=5)) == 0


def test_outbox_counts_every_state_in_one_grouped_query(redis, database_url):
    insert_alerts(3, state="pending", created_at=NOW - timedelta(minutes=5))
    insert_alerts(1, state="pending", created_at=NOW - timedelta(seconds=20))
    insert_alerts(2, state="sending", created_at=NOW - timedelta(minutes=1))
    insert_alerts(4, state="delivered", updated_at=NOW - timedelta(seconds=30), delivered_at=NOW - timedelta(seconds=30))
    insert_alerts(5, state="delivered", updated_at=NOW - timedelta(minutes=30), delivered_at=NOW - timedelta(minutes=30))
    insert_alerts(7, state="delivered", updated_at=NOW - timedelta(hours=2), delivered_at=NOW - timedelta(hours=2))
    insert_alerts(1, state="dead", updated_at=NOW - timedelta(seconds=5))
    insert_alerts(2, state="dead", updated_at=NOW - timedelta(hours=20))
    insert_alerts(6, state="dead", updated_at=NOW - timedelta(hours=30))
    statements = []
    engine = db.engine()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with session_scope() as session:
            counts = dashboard.outbox(session, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert counts == {"pending": 4, "sending": 2, "waiting": 6, "oldest_waiting_seconds": 300,
                      "delivered_last_hour": 9, "delivered_last_60s": 4, "dead_last_24h": 3, "dead_last_60s": 1}
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert "GROUP BY" in statements[-1].upper()


def test_outbox_of_an_empty_table_is_zeros(redis, sqlite_url):
    with session_scope() as session:
        assert dashboard.outbox(session, NOW) == {
            "pending": 0, "sending": 0, "waiting": 0, "oldest_waiting_seconds": None, "delivered_last_hour": 0,
            "delivered_last_60s": 0, "dead_last_24h": 0, "dead_last_60s": 0}


def test_a_sample_keeps_what_could_be_read_and_leaves_out_what_could_not():
    parts = ({"backlog": 7}, {"waiting": 134, "pending": 130, "sending": 4},
             {"waiting": {"alerts": 0, "moog": 12, "other": None}}, {"state": "open"})
    assert dashboard.sample(*parts) == {"backlog": 7, "waiting": 134, "pending": 130, "sending": 4,
                                        "queues": {"alerts": 0, "moog": 12}, "breaker": "open"}
    broken = {"error": "ConnectionError: down"}
    assert dashboard.sample(parts[0], broken, broken, parts[3]) == {"backlog": 7, "breaker": "open"}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_picture_records_a_sample_and_draws_the_alerts_waiting_during_an_outage(redis, database_url):
    """Moogsoft is down: the breaker is open and alerts pile up in the outbox while the ingest
    backlog is empty. The dashboard must say so (the 'Backlog 0' of issue 20)."""
    redis.hset(redis_keys.BREAKER, mapping={"state": "open", "failures": 5})
    for _ in range(3):
        app.send_task("mutt.forward_alerts", args=[["a"]], queue=MOOG_QUEUE)
    now = datetime.now(UTC)
    redis.rpush(redis_keys.DASHBOARD_SAMPLES, *[
        f'{{"at": {now.timestamp() - 30 + n * 10}, "backlog": 0, "waiting": {n * 50}, "queues": {{"moog": {n}}}, '
        f'"breaker": "{"closed" if n == 0 else "open"}"}}' for n in range(3)])
    insert_alerts(134, created_at=now - timedelta(minutes=2))
    picture = dashboard.picture(app, redis, QUEUES, now=now)
    assert picture["status"]["ingest"]["backlog"] == 0
    assert picture["status"]["outbox"]["waiting"] == 134
    assert picture["status"]["workers"] is None, "the live part does not broadcast to the workers"
    assert "the circuit breaker is open: Moogsoft is failing, alerts wait" in picture["status"]["problems"]
    assert picture["samples"] == 4, "three samples before and the one this read took"
    waiting = next(chart for chart in picture["charts"] if chart["field"] == "waiting")
    moog = next(chart for chart in picture["charts"] if chart["field"] == "queues.moog")
    assert (waiting["last"], waiting["max"], moog["last"]) == (134, 134, 3)
    assert waiting["runs"][0].endswith("300.0,0.0"), "the newest sample is at the right edge, at the top"
    assert [band["state"] for band in picture["breaker_bands"]] == ["closed", "open"]
    again = dashboard.picture(app, redis, QUEUES, now=now + timedelta(seconds=2))
    assert again["samples"] == 4, "no second sample within the interval"
    assert timeline.read(redis)[-1]["waiting"] == 134
