"""Celery signal hooks: the correlation id travels with a task and tags the worker's log lines; Celery's
line per task only at DEBUG."""

import logging

import pytest

from celeryconfig import JANITOR_QUEUE
from mutt_app import celery_app
from mutt_app.celery_app import app
from mutt_app.core import logs

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


@pytest.mark.parametrize(("level", "per_task_lines"), [("INFO", False), ("DEBUG", True)])
def test_celerys_line_per_task_is_logged_only_by_a_worker_started_at_debug(monkeypatch, level, per_task_lines):
    monkeypatch.setenv("LOG_LEVEL", level)
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in celery_app.PER_TASK_LOGGERS}
    try:
        celery_app._configure_logging()
        assert [logging.getLogger(name).isEnabledFor(logging.INFO) for name in celery_app.PER_TASK_LOGGERS] == [
            per_task_lines] * 2
        assert logging.getLogger("celery.app.trace").isEnabledFor(logging.ERROR)   # failures are always logged
    finally:
        logs.stop_following()
        root.setLevel(saved[0])
        for name, value in saved[1].items():
            logging.getLogger(name).setLevel(value)
