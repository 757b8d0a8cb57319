"""Lua pieces for limits shared by every process, decided atomically in Redis on its clock.

* ``GCRA`` (generic cell rate algorithm, a token bucket in one number) — ``limit`` per
  ``period`` with bursts up to ``limit``, memory O(1). The ingest script (mutt_app.alerting.batches)
  includes it for the per-key limit; the class here runs it on its own.
* The Moogsoft limit is exact and counted by arrival: ``mutt_app.forwarding.delivery.SendSlots``.

Both use the Redis server's clock, so workers with skewed clocks still agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

_GCRA = LUA_NOW_MS + LUA_GCRA + """
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now_ms())
"""


class GCRA:
    """``limit`` per ``period`` seconds with bursts up to ``limit``, across all processes."""

    def __init__(self, redis_client: Redis) -> None:
        self._script = redis_client.register_script(_GCRA)

    def acquire(self, key: str, limit: int, period: float) -> float:
        """0.0 when allowed, else the seconds until a request would be."""
        return int(self._script(keys=[key], args=[limit, int(period * 1000)])) / 1000.0
