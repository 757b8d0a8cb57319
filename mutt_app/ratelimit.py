"""Rate limits shared by every process, kept in Redis and decided atomically in Lua.

Two shapes, for two contracts:

* ``SlidingLog`` — at most ``limit`` grants in any ``period``-long window, exactly. Used for
  Moogsoft, where the limit is a promise to someone else's API. Memory is O(limit).
* ``GCRA`` (generic cell rate algorithm, a token bucket in one number) — ``limit`` per
  ``period`` with bursts up to ``limit``. Used for ingest API keys, whose limits are large;
  memory is O(1).

Both use the Redis server's clock, so workers with skewed clocks still agree.
"""

from __future__ import annotations

from dataclasses import dataclass

# Shared Lua helpers; scripts that need a limit inside a larger atomic step include these.
LUA_NOW_MS = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

LUA_GCRA = """
-- returns 0 when allowed (and records it), else the milliseconds until it would be allowed
local function gcra(key, limit, period_ms, now)
  local interval = period_ms / limit
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - period_ms
  if allow_at > now then return math.ceil(allow_at - now) end
  redis.call('SET', key, tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1)
  return 0
end
"""

_SLIDING_LOG = LUA_NOW_MS + """
local key, seq_key = KEYS[1], KEYS[2]
local limit, period_ms, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period_ms)
local used = redis.call('ZCARD', key)
local granted = math.max(0, math.min(wanted, limit - used))
for i = 1, granted do
  local seq = redis.call('INCR', seq_key)
  redis.call('ZADD', key, now, now .. ':' .. seq)
end
redis.call('PEXPIRE', key, period_ms + 1000)
redis.call('PEXPIRE', seq_key, period_ms + 1000)
local wait = 0
if granted < wanted then
  -- the next slot frees when the entry that is `limit` places from the newest leaves the window
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  wait = tonumber(oldest[2]) + period_ms - now
  if wait < 1 then wait = 1 end
end
return {granted, wait}
"""

_GCRA = LUA_NOW_MS + LUA_GCRA + """
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now_ms())
"""


@dataclass(frozen=True)
class Grant:
    granted: int
    wait_seconds: float  # until the next slot frees, when fewer than asked were granted


class SlidingLog:
    """At most ``limit`` per ``period`` seconds in any window, across all processes."""

    def __init__(self, redis_client, key: str) -> None:
        self._key = key
        self._script = redis_client.register_script(_SLIDING_LOG)

    def acquire(self, limit: int, period: float, wanted: int = 1) -> Grant:
        granted, wait_ms = self._script(
            keys=[self._key, self._key + ":seq"], args=[limit, int(period * 1000), wanted]
        )
        return Grant(int(granted), int(wait_ms) / 1000.0)


class GCRA:
    """``limit`` per ``period`` seconds with bursts up to ``limit``, across all processes."""

    def __init__(self, redis_client) -> None:
        self._script = redis_client.register_script(_GCRA)

    def acquire(self, key: str, limit: int, period: float) -> float:
        """0.0 when allowed, else the seconds until a request would be."""
        return int(self._script(keys=[key], args=[limit, int(period * 1000)])) / 1000.0
