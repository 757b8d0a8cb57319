"""Redis clients: one per process, URL and timeout, kept by the process's services (:mod:`mutt_app.services`)."""

from __future__ import annotations

import threading

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from mutt_app import config, services

PROBE_SHARE = 0.25  # /health and /metrics wait this share of REDIS_TIMEOUT: they answer within 2 s


def timeout() -> float:
    """Seconds to wait for Redis to connect or to answer one command (REDIS_TIMEOUT)."""
    return config.get().redis_timeout


def get(url: str | None = None) -> redis.Redis:
    """This process's client for ``url`` (default: the configured Redis)."""
    return _client(url, None)


def probe(url: str | None = None) -> redis.Redis:
    """A client for health checks and metrics scrapes: it gives up after a quarter of REDIS_TIMEOUT,
    so that a Redis that is down or hung is reported quickly rather than waited for."""
    return _client(url, PROBE_SHARE)


def _client(url: str | None, share: float | None) -> redis.Redis:
    """This process's client for ``url`` whose timeout is REDIS_TIMEOUT (times ``share``)."""
    process = services.current()
    settings = config.of(process)
    key = ("redis", url or settings.redis_url, settings.redis_timeout * (share or 1))
    return process.own(key, lambda: connect(key[1], key[2]), close=_give_back_idle)


def _give_back_idle(client: redis.Redis) -> None:
    client.connection_pool.disconnect(inuse_connections=False)


def connect(url: str, seconds: float) -> redis.Redis:
    """A new client whose every connect and command gives up after ``seconds`` (redis.TimeoutError)
    (:func:`get` and :func:`probe` keep one per process, URL and timeout).

    A connection that fails is made again once, at once (a Redis restart closes every
    connection); a command that timed out is not sent again, so a Redis that accepts connections
    but never answers costs a caller ``seconds``, not redis-py's default of four tries with backoff.

    A ``sentinel://`` URL gives a client of the primary the Sentinels name (ADR 0017): each new
    connection asks them where it is, and a connection to a primary that died or was demoted
    fails (redis.ConnectionError, so 503 and retry) and is made again to the new one. With
    REDIS_TLS the Sentinels and the primary are both reached over verified TLS.
    """
    options = dict(
        decode_responses=True, socket_timeout=seconds, socket_connect_timeout=seconds,
        health_check_interval=30, retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )
    sentinel = _sentinel_of(url)
    if sentinel is None:
        return redis.Redis.from_url(url, **options)
    tls = sentinel.tls.client_options() if sentinel.tls else {}
    # a Sentinel that fails is tried again once, at once, like the primary, then the next is asked:
    # redis-py's default backs off for seconds per Sentinel (a refused TLS handshake cost 25 s)
    sentinels = Sentinel(list(sentinel.sentinels), sentinel_kwargs={
        "socket_timeout": seconds, "socket_connect_timeout": seconds, "retry": options["retry"],
        "password": sentinel.sentinel_password, **tls,
    })
    return sentinels.master_for(sentinel.master, db=sentinel.db, password=sentinel.password, **tls, **options)


def _sentinel_of(url: str) -> config.RedisSentinel | None:
    if not config.is_sentinel(url):
        return None
    settings = config.get()
    return settings.redis_sentinel if url == settings.redis_url else config.redis_sentinel(url)


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


