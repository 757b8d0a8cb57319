"""Batches of events leased to the alerter, every step atomic in Redis (Lua in ``lua/``).

A batch is cut from the ingest buffer (``mutt_app.ingest.buffer``) with a lease deadline in the
pending set. Then:

1. ``claim`` — the alerter task takes the batch (counting the attempt, renewing the lease).
2. ``complete`` — after its database work committed, the task deletes the batch and adds its
   outcome counts. Only the first completion counts, so a redelivered batch adds nothing.

A batch whose lease runs out (worker killed, message lost) is found by ``expired`` and the
janitor enqueues it again; its ``attempts`` let the alerter ``split`` or dead-letter work that
keeps crashing workers (``mutt_app.alerting.lifecycle``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from redis import Redis

from mutt_app.core import lua
from mutt_app.ingest.buffer import new_batch_id
from mutt_app.storage import redis_keys

# Where an accepted event ends; complete() adds these to redis_keys.STATS.
OUTCOMES = ("audited", "unhandled", "dead_lettered")


@dataclass(frozen=True)
class Claim:
    batch_id: str
    attempts: int          # 1 on the first claim
    events: list[Any]      # canonical events (dicts), as ingest stored them


class EventBatches:
    def __init__(self, redis_client: Redis) -> None:
        self.redis = redis_client
        self._claim = lua.script(redis_client, "mutt_app.alerting:claim")
        self._complete = lua.script(redis_client, "mutt_app.alerting:complete")
        self._split = lua.script(redis_client, "mutt_app.alerting:split")

    def claim(self, batch_id: str, lease_seconds: float) -> Claim | None:
        """Take a batch for processing; None if it was already completed."""
        items = self._claim(
            keys=[redis_keys.batch(batch_id), redis_keys.BATCHES_PENDING, redis_keys.BATCH_ATTEMPTS],
            args=[batch_id, time.time() + lease_seconds],
        )
        if items is None:
            return None
        return Claim(batch_id, int(items[0]), [json.loads(item) for item in items[1:]])

    def complete(self, batch_id: str, counts: dict[str, int]) -> bool:
        """Retire a processed batch and add its outcome counts; False if it was already retired."""
        unknown = set(counts) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown outcome(s) {sorted(unknown)}")
        pairs = [item for field, count in counts.items() if count for item in (field, count)]
        done = self._complete(
            keys=[redis_keys.batch(batch_id), redis_keys.BATCHES_PENDING, redis_keys.BATCH_ATTEMPTS, redis_keys.INGEST_BACKLOG,
                  redis_keys.STATS],
            args=[batch_id, *pairs],
        )
        return bool(done)

    def extend(self, batch_id: str, lease_seconds: float) -> None:
        """Move a batch's lease deadline (e.g. when deferring it on purpose)."""
        self.redis.zadd(redis_keys.BATCHES_PENDING, {batch_id: time.time() + lease_seconds}, xx=True)

    def forgive(self, batch_id: str) -> None:
        """A claim that ended in a handled failure (database down, deferred) is not a crash."""
        self.redis.hincrby(redis_keys.BATCH_ATTEMPTS, batch_id, -1)

    def size(self, batch_id: str) -> int:
        """Events in the batch (0: completed, or never cut)."""
        return int(self.redis.llen(redis_keys.batch(batch_id)))

    def split(self, batch_id: str, lease_seconds: float) -> list[str]:
        """Replace a batch by single-event batches; returns their ids (empty if already gone)."""
        ids = [new_batch_id() for _ in range(self.size(batch_id))]
        pairs = [item for new_id in ids for item in (redis_keys.batch(new_id), new_id)]
        done = self._split(
            keys=[redis_keys.batch(batch_id), redis_keys.BATCHES_PENDING, redis_keys.BATCH_ATTEMPTS],
            args=[batch_id, time.time() + lease_seconds, *pairs],
        )
        return ids if done else []

    def expired(self, limit: int = 500) -> list[tuple[str, int]]:
        """Batches whose lease ran out, oldest first, with how often each was claimed."""
        ids = [str(batch_id) for batch_id in
               self.redis.zrangebyscore(redis_keys.BATCHES_PENDING, "-inf", time.time(), start=0, num=limit)]
        if not ids:
            return []
        attempts = self.redis.hmget(redis_keys.BATCH_ATTEMPTS, ids)
        return [(batch_id, int(count or 0)) for batch_id, count in zip(ids, attempts, strict=True)]

    def pending(self) -> int:
        """Batches cut and not yet completed (waiting for, or held by, the alerter)."""
        return int(self.redis.zcard(redis_keys.BATCHES_PENDING))
