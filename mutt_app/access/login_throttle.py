"""Throttled login: too many failed attempts from one address, or for one user, lock login
for a while (runtime settings ``login_max_failures`` and ``login_lockout_seconds``).

Failures are counted in Redis so every web process sees them. The count's expiry starts at
the first failure and is renewed at the limit, so a locked client waits the full lockout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mutt_app import dynconfig
from mutt_app.core import lua
from mutt_app.storage import redis_keys

if TYPE_CHECKING:
    from redis import Redis


class LoginThrottle:
    def __init__(self, redis_client: Redis) -> None:
        self._redis = redis_client
        self._fail = lua.script(redis_client, "mutt_app.access:login_failed")

    @staticmethod
    def _keys(address: str, username: str) -> list[str]:
        return [redis_keys.login_failures("address", address or "unknown"),
                redis_keys.login_failures("user", (username or "").strip().lower()[:80])]

    def retry_after(self, address: str, username: str) -> int:
        """Seconds until login may be tried again (0: it may be tried now)."""
        limit = dynconfig.get("login_max_failures")
        waits = []
        for key in self._keys(address, username):
            count = int(self._redis.get(key) or 0)
            if count >= limit:
                waits.append(max(1, int(self._redis.ttl(key))))
        return max(waits, default=0)

    def failed(self, address: str, username: str) -> None:
        limit, lockout = dynconfig.get("login_max_failures"), dynconfig.get("login_lockout_seconds")
        for key in self._keys(address, username):
            self._fail(keys=[key], args=[limit, lockout])

    def succeeded(self, username: str) -> None:
        """A correct password clears that user's count (not the address's: one good account
        must not reset an address that is guessing others)."""
        self._redis.delete(self._keys("", username)[1])
