"""A Redis clock that stands still until the test moves it, for the scripts that read Redis's time
(see mutt_app.core.lua.RedisClock): a test of a rate window, a lease or a timeout advances it
instead of sleeping. Expiry that Redis itself does (PX, EXPIRE) still runs on Redis's clock."""

from __future__ import annotations

import time

from mutt_app.core import lua


class StoppedClock(lua.RedisClock):
    def __init__(self) -> None:
        self.now_ms = int(time.time() * 1000)

    def advance(self, seconds: float) -> None:
        self.now_ms += round(seconds * 1000)

    def register(self, redis_client, name: str):
        script, reads_the_clock = lua.source(name), lua.source(lua.NOW_MS)
        if reads_the_clock not in script:
            return lua.script(redis_client, name)

        def run(keys=(), args=(), client=None):
            # the script as written, but for where it reads the time
            pinned = script.replace(reads_the_clock, f"\nlocal function now_ms() return {self.now_ms} end\n")
            return (client or redis_client).eval(pinned, len(keys), *keys, *args)

        return run
