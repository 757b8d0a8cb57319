"""The ingest buffer: accepted events wait in Redis until they are cut into batches.

1. ``accept`` — ingest checks the key's rate limit and the backlog limit, appends the events to
   the buffer, and counts them, in one Lua call (``lua/append.lua``). When it returns "queued"
   the events are in Redis (append-only file on), so answering 200 is a promise MUTT can keep.
2. ``cut`` — up to ``ingest_batch_size`` events move from the buffer into a new batch, which is
   registered in the pending set with a lease deadline (``lua/cut.lua``); the caller then
   enqueues one alerter task for the batch id. A batch is cut by the request that fills it, or
   once the oldest event in the buffer has waited ``ingest_flush_interval_ms`` (the buffer's age
   is kept in Redis, so however many web processes poll, a batch holds what arrived in one
   interval).

From there the batch is the alerter's: ``mutt_app.alerting.batches`` claims, completes and
recovers it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis

from mutt_app.core import ids, lua
from mutt_app.storage import redis_client, redis_keys

QUEUED, RATE_LIMITED, BACKLOG_FULL = "queued", "rate_limited", "backlog_full"
UNREPLICATED = "unreplicated"  # queued on the primary, but too few replicas confirmed it in time

RATE_BUCKETS = (("1m", "%Y-%m-%dT%H:%M", 7200), ("1h", "%Y-%m-%dT%H", 172_800), ("24h", "%Y-%m-%d", 2_592_000))


@dataclass(frozen=True)
class Accepted:
    status: str            # QUEUED, RATE_LIMITED or BACKLOG_FULL
    backlog: int = 0       # events accepted and not yet processed (after this request, if queued)
    buffered: int = 0      # events in the buffer waiting to be cut into a batch
    retry_after: float = 0.0
    rejected_waiting: int = 0  # rejected items waiting to be stored as dead letters (after this request)


@functools.lru_cache(maxsize=4)
def rate_keys(minute: int) -> tuple[str, ...]:
    """The keys counting the events accepted in the UTC minute, hour and day of ``minute``
    (minutes since the epoch): worked out once a minute, not on every request."""
    moment = datetime.fromtimestamp(minute * 60, UTC)
    return tuple(redis_keys.ingest_rate(bucket, moment.strftime(fmt)) for bucket, fmt, _ in RATE_BUCKETS)


def new_batch_id() -> str:
    return ids.new_id()


class EventBuffer:
    def __init__(self, redis_client: Redis, *, clock: lua.RedisClock = lua.REDIS_CLOCK) -> None:
        self.redis = redis_client
        self._accept = clock.register(redis_client, "mutt_app.ingest:append")
        self._cut = clock.register(redis_client, "mutt_app.ingest:cut")

    def accept(
        self,
        events: Sequence[str],
        *,
        key_id: str,
        rate_limit: int,
        rate_window: float,
        max_backlog: int,
        rejected: Sequence[str] = (),
        now: datetime | None = None,
    ) -> Accepted:
        """Queue serialized events, all or none, unless the key's rate or the backlog is over; with
        them (and only then) append ``rejected`` items to the list that becomes dead letters."""
        now = now or datetime.now(UTC)
        metric_keys = rate_keys(int(now.timestamp()) // 60)
        status, value, buffered, waiting = self._accept(
            keys=[redis_keys.INGEST_BUFFER, redis_keys.INGEST_BACKLOG, redis_keys.STATS, redis_keys.ingest_rate_limit(key_id),
                  redis_keys.APIKEY_LAST_USED, *metric_keys, redis_keys.INGEST_BUFFER_SINCE, redis_keys.INGEST_REJECTED],
            args=[rate_limit, int(rate_window * 1000), max_backlog, key_id, int(now.timestamp()),
                  *(ttl for _, _, ttl in RATE_BUCKETS), len(rejected), *events, *rejected],
            client=redis_client.for_this_thread(self.redis),  # once per request: no pool check-out
        )
        if status == 1:
            return Accepted(RATE_LIMITED, retry_after=int(value) / 1000.0)
        if status == 2:
            return Accepted(BACKLOG_FULL, backlog=int(value))
        return Accepted(QUEUED, backlog=int(value), buffered=int(buffered), rejected_waiting=int(waiting))

    def replicated(self, replicas: int, timeout_ms: int) -> bool:
        """Whether at least ``replicas`` replicas confirm, within ``timeout_ms``, every write this
        thread made (Redis WAIT counts the writes of its own connection: :meth:`accept`'s)."""
        return int(redis_client.for_this_thread(self.redis).wait(replicas, timeout_ms)) >= replicas

    def cut(self, max_events: int, lease_seconds: float) -> tuple[str, int] | None:
        """Move up to ``max_events`` from the buffer into a new leased batch: (id, size) or None."""
        return self.cut_when_due(max_events, lease_seconds, waited_ms=0)[0]

    def cut_when_due(self, max_events: int, lease_seconds: float, *, waited_ms: int) -> tuple[tuple[str, int] | None, float]:
        """``cut``, but only once the oldest event in the buffer has waited ``waited_ms``. Also returns
        the seconds until what stays in the buffer is due (0 when the buffer is empty)."""
        batch_id = new_batch_id()
        size, due_in_ms = self._cut(
            keys=[redis_keys.INGEST_BUFFER, redis_keys.BATCHES_PENDING, redis_keys.batch(batch_id), redis_keys.INGEST_BUFFER_SINCE],
            args=[batch_id, max_events, time.time() + lease_seconds, waited_ms],
        )
        return ((batch_id, int(size)) if size else None), int(due_in_ms) / 1000.0

    def backlog(self) -> int:
        """Events accepted and not yet processed (in the buffer or in a batch)."""
        return int(self.redis.get(redis_keys.INGEST_BACKLOG) or 0)

    def buffered(self) -> int:
        return int(self.redis.llen(redis_keys.INGEST_BUFFER))

    def stats(self) -> dict[str, int]:
        """Events accepted and rejected by ingest, and (``mutt_app.alerting.batches.OUTCOMES``) where
        the processed ones ended."""
        return {str(field): int(value) for field, value in self.redis.hgetall(redis_keys.STATS).items()}
