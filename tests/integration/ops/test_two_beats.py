"""Two beats, one schedule: only the beat holding RedBeat's lock sends; when it is killed the other
takes over within the lock's time and the janitor is still sent once per interval (ADR 0017)."""

from __future__ import annotations

import json
import time

import pytest
import redis

from celeryconfig import JANITOR_QUEUE
from tests.support.processes import Process, mutt, mutt_env, wait_log

pytestmark = pytest.mark.integration

INTERVAL, LOCK_SECONDS = 2, 10


def janitor_senders(client: redis.Redis) -> list[str]:
    """The beat that sent each janitor message waiting in the broker's queue (nobody consumes it
    here), newest first."""
    return [json.loads(raw)["headers"]["origin"] for raw in client.lrange(JANITOR_QUEUE, 0, -1)]


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}")


def test_the_standby_beat_takes_over_when_the_active_one_is_killed_and_the_janitor_goes_on(redis, sqlite_url, tmp_path):
    from tests.conftest import REDIS_URL

    env = mutt_env(REDIS_URL, sqlite_url, tmp_path / "home", JANITOR_INTERVAL=str(INTERVAL),
                   BEAT_LOCK_SECONDS=str(LOCK_SECONDS))
    first = Process("beat-1", mutt("beat"), env, tmp_path)
    wait_log(first, "Acquired lock")
    second = Process("beat-2", mutt("beat"), env, tmp_path)
    try:
        wait_log(second, "beat: Starting")
        wait_for(lambda: len(janitor_senders(redis)) >= 3, 4 * INTERVAL, "the first beat sends the janitor")
        assert "Acquired lock" not in second.log()  # the second one waits
        assert len(set(janitor_senders(redis))) == 1

        first.kill()
        killed_at, sent_before = time.monotonic(), len(janitor_senders(redis))
        wait_log(second, "Acquired lock", timeout=LOCK_SECONDS + 10)
        took_over = time.monotonic() - killed_at
        wait_for(lambda: len(janitor_senders(redis)) >= sent_before + 3, 4 * INTERVAL, "the second beat sends the janitor")
    finally:
        second.stop()
        first.stop()

    assert took_over <= LOCK_SECONDS + 5
    senders = janitor_senders(redis)
    assert len(set(senders)) == 2 and senders[0] != senders[-1]
    running = time.monotonic() - killed_at + sent_before * INTERVAL
    assert len(senders) <= running / INTERVAL + 2, senders  # once per interval, never twice over the takeover

