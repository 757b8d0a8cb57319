"""Limits shared by every process, decided atomically in Redis on its clock.

* ``GCRA`` (generic cell rate algorithm, a token bucket in one number) — ``limit`` per
  ``period`` with bursts up to ``limit``, memory O(1). Its Lua (``lua/gcra.lua``) is included by
  the ingest script (``mutt_app/ingest/lua/append.lua``) for the per-key limit; the class here
  runs it on its own.
* The Moogsoft limit is exact and counted by arrival: ``mutt_app.forwarding.send_slots.SendSlots``.

Both use the Redis server's clock (``lua/now_ms.lua``), so workers with skewed clocks still agree.
"""

from __future__ import annotations

from redis import Redis

from mutt_app.core import lua


class GCRA:
    """``limit`` per ``period`` seconds with bursts up to ``limit``, across all processes."""

    def __init__(self, redis_client: Redis, *, clock: lua.RedisClock = lua.REDIS_CLOCK) -> None:
        self._script = clock.register(redis_client, "mutt_app.core:gcra_acquire")

    def acquire(self, key: str, limit: int, period: float) -> float:
        """0.0 when allowed, else the seconds until a request would be."""
        return int(self._script(keys=[key], args=[limit, int(period * 1000)])) / 1000.0
