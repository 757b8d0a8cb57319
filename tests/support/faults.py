"""Dependencies that fail on purpose: a server that accepts connections and never answers (a hung
Redis), and a redis-server and a PostgreSQL cluster of the test's own, to stop and restart.

The shared test servers are never stopped: a fault test starts its own on a free port in a
temporary directory and removes it afterwards.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

from mutt_app.operations import embedded_redis
from tests.support.processes import free_port, wait_until


def _newest_postgresql_bin() -> Path:
    """The newest installed PostgreSQL's server binaries (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _newest_postgresql_bin()


class SilentServer:
    """Accepts TCP connections on a free port, reads nothing and answers nothing: what a client
    of a hung (SIGSTOPped, deadlocked) server sees once the kernel has taken the connection."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self.port = self._socket.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._held: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)

    def close(self) -> None:
        self._closed.set()
        self._socket.close()
        for connection in self._held:
            connection.close()


def closed_port_url(scheme: str = "redis") -> str:
    """A URL on a port where nothing listens (connections are refused at once)."""
    port = free_port()
    if scheme == "redis":
        return f"redis://127.0.0.1:{port}/0"
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/mutt"


class OwnRedis:
    """A redis-server of this test: TCP on a free port, append-only file on (as production runs it)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        home.mkdir(parents=True, exist_ok=True)

    def start(self) -> OwnRedis:
        args = [shutil.which("redis-server") or embedded_redis.binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.home), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                "--maxmemory-policy", "noeviction", "--logfile", str(self.home / "redis.log")]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(port=self.port, socket_timeout=1)

        def answers():
            try:
                return client.ping()
            except (redis.ConnectionError, redis.TimeoutError):
                return False

        wait_until(answers, timeout=30, message="own redis-server answering")
        return self

    def stop(self) -> None:
        """SIGTERM: redis-server writes its append-only file out and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the port still takes connections, nothing answers (a hung Redis)."""
        os.kill(self.process.pid, 19)

    def resume(self) -> None:
        os.kill(self.process.pid, 18)


class OwnPostgres:
    """A PostgreSQL cluster of this test (initdb + pg_ctl) on a free port in a temporary directory.

    As root the server runs as the ``postgres`` user (PostgreSQL refuses to run as root), in a
    directory of its own under /tmp (that user cannot enter pytest's, which is root's alone).
    """

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="mutt-fault-pg-"))
        self.data = self.home / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/mutt"
        self._as = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            user = pwd.getpwnam("postgres")
            os.chown(self.home, user.pw_uid, user.pw_gid)

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "initdb").exists() and (os.geteuid() != 0 or _has_user("postgres"))

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=120, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args[:1])} failed ({done.returncode}):\n{done.stdout[-2000:]}")

    def init(self) -> OwnPostgres:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self.start()
        admin = create_engine(self.url.replace("/mutt", "/postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE mutt"))
        admin.dispose()
        return self

    def start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.home / "postgres.log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended, new connections refused."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def timed(call) -> tuple[float, object]:
    """(seconds the call took, its result)."""
    started = time.monotonic()
    result = call()
    return time.monotonic() - started, result
