"""The circuit breaker in front of Moogsoft, shared by every worker through Redis.

closed     sends go through; ``circuit_breaker_threshold`` consecutive failures open it.
open       nothing is sent for ``circuit_breaker_timeout`` seconds; callers are told how long to wait.
half_open  exactly one caller (the probe) may send. Its success closes the breaker, its failure
           opens it again. The probe holds a lease: if it never reports (its worker died), the
           next caller after the lease becomes the probe, so a lost probe cannot block forever.

Every transition is one Lua script (``lua/breaker.lua``: atomic across workers, Redis's clock), counted in a Redis
hash for the UI and in ``mutt_circuit_breaker_state_changes_total``. Both thresholds are runtime
settings read at each call, so a change applies at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from mutt_app import config, dynconfig
from mutt_app.core import lua, metrics
from mutt_app.storage import redis_client, redis_keys

if TYPE_CHECKING:
    from redis import Redis

NAME = "moogsoft"
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)
GAUGE_VALUES = {CLOSED: 0, OPEN: 1, HALF_OPEN: 2}
# Callers turned away while a probe is out come back this soon, to follow a quick probe.
HALF_OPEN_POLL_MS = 1000

@dataclass(frozen=True)
class Permit:
    allowed: bool
    wait_seconds: float  # when not allowed: until the breaker may let a send through
    probe: bool          # this caller is the half-open probe: send one alert and report


class CircuitBreaker:
    """``allow()`` before a send, then ``record_success()`` or ``record_failure()``."""

    def __init__(self, redis_client: Redis, *, probe_lease: float | None = None,
                 clock: lua.RedisClock = lua.REDIS_CLOCK) -> None:
        self._redis = redis_client
        self._script = clock.register(redis_client, "mutt_app.forwarding:breaker")
        # A probe is one send (connect + answer, each up to MOOG_TIMEOUT): it reports by then
        # unless its worker died.
        self._probe_lease = probe_lease if probe_lease is not None else 2 * config.get().moog_timeout + 10

    def acquire(self) -> Permit:
        """May a send go now? Also says whether this caller is the half-open probe."""
        return self.permit(self.acquire_call().run(redis_client.for_this_thread(self._redis)))

    def acquire_call(self) -> lua.Call:
        """``acquire`` as a script call, to run with others (``lua.run_together``); ``permit`` reads its answer."""
        return self._call("allow")

    def permit(self, answer: Any) -> Permit:
        allowed, wait_ms, probe = self._outcome(answer)
        return Permit(bool(allowed), wait_ms / 1000.0, bool(probe))

    def _call(self, op: str, outcomes: str = "") -> lua.Call:
        runtime = dynconfig.runtime(self._redis)
        return lua.Call(self._script, [redis_keys.BREAKER, redis_keys.BREAKER_TRANSITIONS], [
            op,
            runtime.get("circuit_breaker_threshold"),
            int(runtime.get("circuit_breaker_timeout") * 1000),
            int(self._probe_lease * 1000),
            HALF_OPEN_POLL_MS,
            outcomes,
        ])

    def _outcome(self, answer: Any) -> tuple[int, int, int]:
        """(allowed, ms to wait, probe) from the script's answer, counting the moves it made."""
        allowed, wait_ms, probe, moves = answer
        moves = moves.decode() if isinstance(moves, bytes) else moves
        for move in filter(None, moves.split(",")):
            from_state, to_state = move.split(">")
            metrics.BREAKER_TRANSITIONS.labels(NAME, from_state, to_state).inc()
            metrics.BREAKER_STATE.labels(NAME).set(GAUGE_VALUES[to_state])
        return int(allowed), int(wait_ms), int(probe)

    def allow(self) -> tuple[bool, float]:
        """(True, 0.0) to send now, else (False, seconds to wait)."""
        permit = self.acquire()
        return permit.allowed, permit.wait_seconds

    def record_success(self) -> None:
        """Moogsoft answered (2xx, or a permanent 4xx: it is up, it refused one alert)."""
        self.record([True])

    def record_failure(self) -> None:
        """Moogsoft failed a send: 5xx, 408/425/429, a timeout or no connection."""
        self.record([False])

    def record(self, answered: list[bool]) -> None:
        """The results of several sends at once, in order: True where Moogsoft answered."""
        if answered:
            self.recorded(self.record_call(answered).run(redis_client.for_this_thread(self._redis)))

    def record_call(self, answered: list[bool]) -> lua.Call:
        """``record`` as a script call (``lua.run_together``); ``recorded`` reads its answer."""
        return self._call("record", "".join("s" if ok else "f" for ok in answered))

    def recorded(self, answer: Any) -> None:
        self._outcome(answer)

    def state(self) -> str:
        state = cast(str | None, self._redis.hget(redis_keys.BREAKER, "state"))  # MUTT's clients decode responses
        return state or CLOSED

    def snapshot(self) -> dict[str, Any]:
        """State, consecutive failures and times (epoch seconds), for the UI and health checks."""
        raw = self._redis.hgetall(redis_keys.BREAKER)

        def seconds(field: str) -> float | None:
            return int(raw[field]) / 1000.0 if raw.get(field) else None

        opened_at = seconds("opened_at")
        state = raw.get("state") or CLOSED
        return {
            "state": state,
            "failures": int(raw.get("failures") or 0),
            "threshold": dynconfig.runtime(self._redis).get("circuit_breaker_threshold"),
            "opened_at": opened_at,
            "probe_at": opened_at + dynconfig.runtime(self._redis).get("circuit_breaker_timeout")
            if state == OPEN and opened_at else None,
            "changed_at": seconds("changed_at"),
            "transitions": self.transitions(),
        }

    def transitions(self) -> dict[str, int]:
        """Transitions since the start, as {"closed>open": n, ...}."""
        counts = cast(dict[str, str], self._redis.hgetall(redis_keys.BREAKER_TRANSITIONS))  # decoded, as above
        return {name: int(count) for name, count in counts.items()}

    def sample_metrics(self) -> str:
        """Set the state gauge from Redis (call when /metrics is scraped); returns the state."""
        state = self.state()
        metrics.BREAKER_STATE.labels(NAME).set(GAUGE_VALUES.get(state, 0))
        return state
