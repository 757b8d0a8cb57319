"""Beat-driven jobs (janitor, remediation): one run at a time, and when each last ran.

Beat only sends the task; a worker runs it. Two runs can overlap (a slow run, a duplicate beat,
a redelivered message), so each run takes a short Redis lock first. The lock expires on its own,
so a worker killed mid-run blocks the next run for at most ``timeout`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import LockError

from mutt_app.storage import redis_keys

JANITOR, JANITOR_MAINTENANCE, REMEDIATION = "janitor", "janitor_maintenance", "remediation"
HEARTBEATS = "heartbeats"


class Held:
    """A taken lock; ``keep_alive()`` between long steps pushes its expiry out again."""

    def __init__(self, lock) -> None:
        self._lock = lock

    def keep_alive(self) -> None:
        try:
            self._lock.reacquire()
        except LockError:
            pass  # expired meanwhile: the run goes on, a rival run is harmless (work is idempotent)


@contextmanager
def exclusive(redis_client, name: str, timeout: float = 30) -> Iterator[Held | None]:
    """Yield a ``Held`` if this run got the lock, else None (another run is busy)."""
    lock = redis_client.lock(redis_keys.job_lock(name), timeout=timeout, blocking=False)
    if not lock.acquire(blocking=False):
        yield None
        return
    try:
        yield Held(lock)
    finally:
        try:
            lock.release()
        except LockError:
            pass


def mark_ran(redis_client, name: str, at: float | None = None) -> None:
    redis_client.set(redis_keys.job_last_run(name), repr(at if at is not None else time.time()))


def last_run(redis_client, name: str) -> float | None:
    """Epoch seconds of the job's last run, or None if it never ran."""
    value = redis_client.get(redis_keys.job_last_run(name))
    return float(value) if value else None


def due(redis_client, name: str, every: float, now: float | None = None) -> bool:
    last = last_run(redis_client, name)
    return last is None or (now if now is not None else time.time()) - last >= every
