"""Celery signal hooks: the correlation id travels with a task and tags the worker's log lines."""

import threading
import time

import pytest
import redis

from celeryconfig import JANITOR_QUEUE
from mutt_app import celery_app, config
from mutt_app.celery_app import app
from mutt_app.core import logs
from tests.support.faults import OwnRedis
from tests.support.processes import free_port

SEEN = "mutt:test:correlation_seen"

on_the_janitor_queue = pytest.mark.parametrize("worker", [[JANITOR_QUEUE]], indirect=True, ids=["janitor queue"])


@app.task(name="tests.record_correlation_id")
def record_correlation_id() -> None:
    from mutt_app.storage import redis_client
    redis_client.get().rpush(SEEN, logs.correlation_id.get() or "-")


@on_the_janitor_queue
def test_a_task_enqueued_in_a_correlated_block_runs_with_that_correlation_id(redis, worker):
    with logs.correlated("evt-42"):
        record_correlation_id.apply_async(queue=JANITOR_QUEUE)
    record_correlation_id.apply_async(queue=JANITOR_QUEUE)  # outside any block: no id, none left over
    record_correlation_id.apply_async(queue=JANITOR_QUEUE, headers={logs.TASK_HEADER: "given"})
    seen = []
    for _ in range(3):
        item = redis.blpop(SEEN, timeout=10)
        assert item is not None, f"worker ran only {seen}"
        seen.append(item[1])
    assert seen == ["evt-42", "-", "given"]


def test_a_broker_channel_whose_connection_was_closed_under_it_raises_a_connection_error(redis):
    """kombu clears a connection's transport client before every channel has closed; a channel
    that then needs a pool must fail with an error Celery recovers from, not AttributeError."""
    from kombu import Connection

    from mutt_app import config
    from tests.conftest import REDIS_URL

    with Connection(config.broker_url_for(REDIS_URL)) as connection:
        channel = connection.channel()
        channel.connection.client = None  # what Connection._close does to the transport
        with pytest.raises(connection.connection_errors) as raised:
            channel._connparams()
        assert "closed" in str(raised.value)


def test_a_beat_started_while_its_redis_is_a_replica_being_promoted_waits_and_writes_its_schedule(
        tmp_path, monkeypatch, sqlite_url):
    """A failover seen from a beat starting at that moment: its Redis answers reads and refuses
    writes (READONLY) until it is promoted. RedBeat's start wrote the schedule once and exited."""
    server = OwnRedis(tmp_path / "redis").start()
    admin = redis.Redis(port=server.port)
    try:
        admin.replicaof("127.0.0.1", free_port())   # a replica whose primary is gone
        monkeypatch.setenv("REDIS_URL", server.url)
        config.reset()
        promotion = threading.Timer(2.0, lambda: admin.replicaof("NO", "ONE"))
        promotion.start()
        started = time.monotonic()
        scheduler = celery_app.BeatScheduler(app)
        assert time.monotonic() - started >= 2.0
        assert admin.smembers(app.redbeat_conf.statics_key) == {name.encode() for name in app.conf.beat_schedule}
        assert scheduler.schedule
    finally:
        server.stop()
        config.reset()
