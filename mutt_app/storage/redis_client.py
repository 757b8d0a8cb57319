"""One Redis client per process and URL."""

from __future__ import annotations

import os
import threading

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mutt_app import config

_clients: dict[tuple[str, float], tuple[int, redis.Redis]] = {}

PROBE_SHARE = 0.25  # /health and /metrics wait this share of REDIS_TIMEOUT: they answer within 2 s


def timeout() -> float:
    """Seconds to wait for Redis to connect or to answer one command (REDIS_TIMEOUT)."""
    return float(config.env("REDIS_TIMEOUT"))


def get(url: str | None = None) -> redis.Redis:
    """The shared client for ``url`` (default: the configured Redis), rebuilt after a fork."""
    return _client(url, timeout())


def probe(url: str | None = None) -> redis.Redis:
    """A client for health checks and metrics scrapes: it gives up after a quarter of REDIS_TIMEOUT,
    so that a Redis that is down or hung is reported quickly rather than waited for."""
    return _client(url, timeout() * PROBE_SHARE)


def _client(url: str | None, seconds: float) -> redis.Redis:
    """A client whose every connect and command gives up after ``seconds`` (redis.TimeoutError).

    A connection that fails is made again once, at once (a Redis restart closes every
    connection); a command that timed out is not sent again, so a Redis that accepts connections
    but never answers costs a caller ``seconds``, not redis-py's default of four tries with backoff.
    """
    url = url or config.get().redis_url
    entry = _clients.get((url, seconds))
    if entry is None or entry[0] != os.getpid():
        client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=seconds, socket_connect_timeout=seconds,
            health_check_interval=30, retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        )
        entry = (os.getpid(), client)
        _clients[(url, seconds)] = entry
    return entry[1]


_per_thread = threading.local()


def for_this_thread(client: redis.Redis) -> redis.Redis:
    """A client over ``client``'s pool that keeps one connection for the calling thread.

    For a call made once per request: it skips the pool's check-out and check-in (a quarter of
    the client CPU of a short command) but not its check that the connection is still open, so
    a connection Redis closed (a restart) is made again rather than failing the call. The
    connection goes back to the pool when the thread ends.
    """
    own = _per_thread.__dict__.setdefault("clients", {})
    pool = client.connection_pool
    found = own.get(id(pool))
    if found is None or found.connection_pool is not pool:
        found = own[id(pool)] = redis.Redis(connection_pool=pool, single_connection_client=True)
    connection = found.connection
    try:
        if connection.can_read():  # between commands: the server closed it (or sent what nobody asked for)
            connection.disconnect()
    except (redis.ConnectionError, OSError):
        connection.disconnect()
    return found


def reset() -> None:
    _clients.clear()
