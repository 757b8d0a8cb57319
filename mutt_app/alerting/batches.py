"""Accepted events on their way to the alerter: a buffer, cut into batches, each batch leased.

The flow, every step atomic in Redis:

1. ``accept`` — ingest checks the key's rate limit and the backlog limit, appends the events to
   the buffer, and counts them, in one Lua call. When it returns "queued" the events are in
   Redis (append-only file on), so answering 200 is a promise MUTT can keep.
2. ``cut`` — up to ``ingest_batch_size`` events move from the buffer into a new batch, which is
   registered in the pending set with a lease deadline; the caller then enqueues one alerter
   task for the batch id. A batch is cut by the request that fills it, or once the oldest event
   in the buffer has waited ``ingest_flush_interval_ms`` (the buffer's age is kept in Redis, so
   however many web processes poll, a batch holds what arrived in one interval).
3. ``claim`` — the alerter task takes the batch (counting the attempt, renewing the lease).
4. ``complete`` — after its database work committed, the task deletes the batch and adds its
   outcome counts. Only the first completion counts, so a redelivered batch adds nothing.

A batch whose lease runs out (worker killed, message lost) is found by ``expired`` and the
janitor enqueues it again; its ``attempts`` let the alerter split or dead-letter work that keeps
crashing workers.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from mutt_app.core.limits import LUA_GCRA, LUA_NOW_MS, REDIS_CLOCK, RedisClock
from mutt_app.storage import redis_client, redis_keys

QUEUED, RATE_LIMITED, BACKLOG_FULL = "queued", "rate_limited", "backlog_full"

# Where an accepted event ends; complete() adds these to redis_keys.STATS.
OUTCOMES = ("audited", "unhandled", "dead_lettered")

RATE_BUCKETS = (("1m", "%Y-%m-%dT%H:%M", 7200), ("1h", "%Y-%m-%dT%H", 172_800), ("24h", "%Y-%m-%d", 2_592_000))

_ACCEPT = LUA_NOW_MS + LUA_GCRA + """
-- KEYS: buffer, backlog, stats, rate_limit, last_used, metric_1m, metric_1h, metric_24h, buffer_since, rejected
-- ARGV: rate_limit, rate_window_ms, max_backlog, key_id, now_s, ttl_1m, ttl_1h, ttl_24h, rejected_count,
--       events..., rejected items...
-- Returns {status, backlog or wait, buffered, rejected items waiting to be stored}.
local r = tonumber(ARGV[9])
local last = #ARGV - r  -- ARGV[10 .. last] are events, ARGV[last + 1 ..] rejected items
local n = last - 9
local limit = tonumber(ARGV[1])
local now = now_ms()
if limit > 0 then
  local wait = gcra(KEYS[4], limit, tonumber(ARGV[2]), now)
  if wait > 0 then return {1, wait, 0, 0} end
end
local backlog = tonumber(redis.call('GET', KEYS[2]) or '0')
if n > 0 and backlog + n > tonumber(ARGV[3]) then return {2, backlog, 0, 0} end
local buffered = 0
for i = 10, last, 1000 do  -- unpack() takes at most about 8,000 values
  buffered = redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, last)))
end
if n > 0 and buffered == n then redis.call('SET', KEYS[9], now) end  -- these are the oldest now
local waiting = 0
for i = last + 1, #ARGV, 1000 do
  waiting = redis.call('RPUSH', KEYS[10], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if r > 0 then redis.call('HINCRBY', KEYS[3], 'rejected', r) end
redis.call('HSET', KEYS[5], ARGV[4], ARGV[5])
if n == 0 then return {0, backlog, 0, waiting} end
backlog = redis.call('INCRBY', KEYS[2], n)
redis.call('HINCRBY', KEYS[3], 'accepted', n)
for i = 6, 8 do  -- a bucket gets its time to live from the events that create it
  if redis.call('INCRBY', KEYS[i], n) == n then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[i])) end
end
return {0, backlog, buffered, waiting}
"""

_CUT = LUA_NOW_MS + """
-- KEYS: buffer, pending, batch, buffer_since ; ARGV: batch_id, max_events, lease_deadline, due_ms
-- With due_ms > 0, cut only when the oldest buffered event has waited that long.
-- Returns {events cut, ms until the buffer is due (0: it is empty)}.
local now = now_ms()
local due = tonumber(ARGV[4])
if due > 0 then
  local since = redis.call('GET', KEYS[4])
  if since and now - tonumber(since) < due then return {0, due - (now - tonumber(since))} end
end
local items = redis.call('LPOP', KEYS[1], tonumber(ARGV[2]))
if not items then
  redis.call('DEL', KEYS[4])
  return {0, 0}
end
redis.call('RPUSH', KEYS[3], unpack(items))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
-- what stays came after the events cut (the rest of the request that filled the batch, or newer)
if redis.call('LLEN', KEYS[1]) > 0 then
  redis.call('SET', KEYS[4], now)
  return {#items, math.max(due, 1)}  -- not empty: due in an interval (1 ms when no interval was given)
end
redis.call('DEL', KEYS[4])
return {#items, 0}
"""

_CLAIM = """
-- KEYS: batch, pending, attempts ; ARGV: batch_id, lease_deadline
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local attempts = redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
local items = redis.call('LRANGE', KEYS[1], 0, -1)
table.insert(items, 1, tostring(attempts))
return items
"""

_COMPLETE = """
-- KEYS: batch, pending, attempts, backlog, stats ; ARGV: batch_id, then field, count pairs
local n = redis.call('LLEN', KEYS[1])
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DECRBY', KEYS[4], n)
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[5], ARGV[i], tonumber(ARGV[i + 1]))
end
return 1
"""

_SPLIT = """
-- KEYS: batch, pending, attempts ; ARGV: batch_id, lease_deadline, new batch keys and ids (pairs)
-- Replace one batch by one batch per event (to isolate an event that keeps killing workers).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i, item in ipairs(items) do
  local key, id = ARGV[1 + 2 * i], ARGV[2 + 2 * i]
  if key then
    redis.call('RPUSH', key, item)
    redis.call('ZADD', KEYS[2], ARGV[2], id)
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return #items
"""


@dataclass(frozen=True)
class Accepted:
    status: str            # QUEUED, RATE_LIMITED or BACKLOG_FULL
    backlog: int = 0       # events accepted and not yet processed (after this request, if queued)
    buffered: int = 0      # events in the buffer waiting to be cut into a batch
    retry_after: float = 0.0
    rejected_waiting: int = 0  # rejected items waiting to be stored as dead letters (after this request)


@dataclass(frozen=True)
class Claim:
    batch_id: str
    attempts: int          # 1 on the first claim
    events: list[dict]


def new_batch_id() -> str:
    return uuid.uuid4().hex


class EventBatches:
    def __init__(self, redis_client, *, clock: RedisClock = REDIS_CLOCK) -> None:
        self.redis = redis_client
        self._accept = clock.register(redis_client, _ACCEPT)
        self._cut = clock.register(redis_client, _CUT)
        self._claim = redis_client.register_script(_CLAIM)
        self._complete = redis_client.register_script(_COMPLETE)
        self._split = redis_client.register_script(_SPLIT)

    def accept(
        self,
        events: list[str],
        *,
        key_id: str,
        rate_limit: int,
        rate_window: float,
        max_backlog: int,
        rejected: list[str] = (),
        now: datetime | None = None,
    ) -> Accepted:
        """Queue serialized events, all or none, unless the key's rate or the backlog is over; with
        them (and only then) append ``rejected`` items to the list that becomes dead letters."""
        now = now or datetime.now(UTC)
        metric_keys = [redis_keys.ingest_rate(bucket, now.strftime(fmt)) for bucket, fmt, _ in RATE_BUCKETS]
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
            keys=[redis_keys.batch(batch_id), redis_keys.BATCHES_PENDING, redis_keys.BATCH_ATTEMPTS, redis_keys.INGEST_BACKLOG, redis_keys.STATS],
            args=[batch_id, *pairs],
        )
        return bool(done)

    def extend(self, batch_id: str, lease_seconds: float) -> None:
        """Move a batch's lease deadline (e.g. when deferring it on purpose)."""
        self.redis.zadd(redis_keys.BATCHES_PENDING, {batch_id: time.time() + lease_seconds}, xx=True)

    def split(self, batch_id: str, lease_seconds: float) -> list[str]:
        """Replace a batch by single-event batches; returns their ids (empty if already gone)."""
        size = self.redis.llen(redis_keys.batch(batch_id))
        ids = [new_batch_id() for _ in range(size)]
        pairs = [item for new_id in ids for item in (redis_keys.batch(new_id), new_id)]
        done = self._split(
            keys=[redis_keys.batch(batch_id), redis_keys.BATCHES_PENDING, redis_keys.BATCH_ATTEMPTS],
            args=[batch_id, time.time() + lease_seconds, *pairs],
        )
        return ids if done else []

    def expired(self, limit: int = 500) -> list[tuple[str, int]]:
        """Batches whose lease ran out, oldest first, with how often each was claimed."""
        ids = self.redis.zrangebyscore(redis_keys.BATCHES_PENDING, "-inf", time.time(), start=0, num=limit)
        if not ids:
            return []
        attempts = self.redis.hmget(redis_keys.BATCH_ATTEMPTS, ids)
        return [(batch_id, int(count or 0)) for batch_id, count in zip(ids, attempts)]

    def backlog(self) -> int:
        return int(self.redis.get(redis_keys.INGEST_BACKLOG) or 0)

    def buffered(self) -> int:
        return int(self.redis.llen(redis_keys.INGEST_BUFFER))

    def pending(self) -> int:
        return int(self.redis.zcard(redis_keys.BATCHES_PENDING))

    def stats(self) -> dict[str, int]:
        return {field: int(value) for field, value in self.redis.hgetall(redis_keys.STATS).items()}
