"""Operators' tools against a real worker process: status, and runtime settings reaching it."""

import json
import subprocess
import time

import pytest

from tests.support.fixtures import stack_of
from tests.support.processes import mutt, wait_until

pytestmark = [pytest.mark.integration, stack_of("one worker", database="sqlite", web_workers=0, standin=False)]


def run_mutt(env, *args):
    return subprocess.run(mutt(*args), env=env, capture_output=True, text=True, timeout=60)


def test_status_json_sees_the_worker_and_its_queues(stack):
    result = run_mutt(stack.env, "status", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, report["problems"]
    (name, queues), = report["workers"].items()
    assert name.startswith("worker-") and queues == ["alerts", "janitor", "moog", "remediation"]
    assert report["queues"]["waiting"] == {"alerts": 0, "moog": 0, "janitor": 0, "remediation": 0}
    assert report["problems"] == []
    assert report["breaker"]["state"] == "closed"
    assert set(report["ingest"]) == {"backlog", "buffered", "batches_pending", "events_last_minute", "events_this_minute"}


def test_log_level_change_reaches_every_worker_process_within_a_second(stack):
    worker = stack.workers[0]
    lines = lambda: [json.loads(line) for line in worker.log().splitlines()  # noqa: E731
                     if line.startswith("{") and "log level is now DEBUG" in line]
    assert lines() == []
    result = run_mutt(stack.env, "config", "set", "log_level", "DEBUG", "--reason", "chasing a bug")
    assert result.returncode == 0, result.stderr
    changed_at = time.monotonic()
    wait_until(lambda: len(lines()) == 3, timeout=5, interval=0.02,
               message="the worker's main process and both pool processes at DEBUG")
    assert time.monotonic() - changed_at < 1.0
    assert worker.alive()
