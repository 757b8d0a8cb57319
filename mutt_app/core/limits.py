"""Lua pieces for limits shared by every process, decided atomically in Redis on its clock.

* ``GCRA`` (generic cell rate algorithm, a token bucket in one number) — ``limit`` per
  ``period`` with bursts up to ``limit``, memory O(1). The ingest script (mutt_app.alerting.batches)
  includes it for the per-key limit; the class here runs it on its own.
* The Moogsoft limit is exact and counted by arrival: ``mutt_app.forwarding.delivery.SendSlots``.

Both use the Redis server's clock, so workers with skewed clocks still agree. The scripts that
read it (``LUA_NOW_MS``) are registered through a ``RedisClock``, so a test can give them a clock
it moves itself instead of waiting for Redis's to pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis import Redis

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


class RedisClock:
    """The Redis server's clock (``TIME``), read by the scripts when they run."""

    def register(self, redis_client: Redis, script: str) -> Callable[..., Any]:
        """``script`` registered on ``redis_client``, reading this clock (a redis-py Script)."""
        return redis_client.register_script(script)


REDIS_CLOCK = RedisClock()

_GCRA = LUA_NOW_MS + LUA_GCRA + """
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now_ms())
"""


class GCRA:
    """``limit`` per ``period`` seconds with bursts up to ``limit``, across all processes."""

    def __init__(self, redis_client: Redis, *, clock: RedisClock = REDIS_CLOCK) -> None:
        self._script = clock.register(redis_client, _GCRA)

    def acquire(self, key: str, limit: int, period: float) -> float:
        """0.0 when allowed, else the seconds until a request would be."""
        return int(self._script(keys=[key], args=[limit, int(period * 1000)])) / 1000.0
