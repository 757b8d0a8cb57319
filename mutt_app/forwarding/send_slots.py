"""The shared Moogsoft rate limit, kept as Moogsoft sees it: by when requests arrive."""

from __future__ import annotations

from typing import Any

from redis import Redis

from mutt_app.core import lua
from mutt_app.storage import redis_client, redis_keys


class SendSlots:
    """The shared Moogsoft rate limit, kept as Moogsoft sees it: by when requests arrive.

    A sliding log in Redis (one Lua step per call, ``lua/send_slots.lua``, Redis's clock).
    ``take`` adds slots that count while their requests are in flight (until their lease, should
    the worker die); ``done`` re-dates them to when the answers came, which is no earlier than
    Moogsoft received the requests. So any ``period`` in which Moogsoft receives ``limit + 1``
    requests would have had all of them in the log when the last was granted: impossible. A limit
    counted at grant time only would be broken by a request that is slow to leave (a busy machine)
    followed by one that is quick.
    """

    def __init__(self, redis_client: Redis, key: str = redis_keys.MOOG_RATE_LIMIT, *,
                 clock: lua.RedisClock = lua.REDIS_CLOCK) -> None:
        self._redis = redis_client
        self._keys = [key, key + ":seq"]
        self._script = clock.register(redis_client, "mutt_app.forwarding:send_slots")

    def take(self, limit: int, period: float, lease: float, count: int = 1) -> tuple[list[str], float]:
        """(up to ``count`` slots, 0) when requests may go now, else ([], seconds until one might)."""
        return self.granted(self._run(self.take_call(limit, period, lease, count)))

    def take_call(self, limit: int, period: float, lease: float, count: int = 1) -> lua.Call:
        """``take`` as a script call, to run with others (``lua.run_together``); ``granted`` reads its answer."""
        return self._call("take", limit, int(period * 1000), int(lease * 1000), count)

    @staticmethod
    def granted(answer: Any) -> tuple[list[str], float]:
        if int(answer[0]):
            return [slot.decode() if isinstance(slot, bytes) else str(slot) for slot in answer[1:]], 0.0
        return [], int(answer[1]) / 1000.0

    def done(self, slots: list[str]) -> None:
        if slots:
            self._run(self.done_call(slots))

    def done_call(self, slots: list[str]) -> lua.Call:
        """``done`` as a script call (``lua.run_together``)."""
        return self._call("done", *slots)

    def cancel(self, slots: list[str]) -> None:
        """The slots were not used (nothing left to send)."""
        if slots:
            self._run(self._call("cancel", *slots))

    def _call(self, *args: Any) -> lua.Call:
        return lua.Call(self._script, self._keys, args)

    def _run(self, call: lua.Call) -> Any:
        return call.run(redis_client.for_this_thread(self._redis))  # several calls per task: no pool check-out each
