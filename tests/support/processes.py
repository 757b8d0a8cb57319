"""Real MUTT processes for integration tests: web under granian, Celery workers, beat."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A child process with its output in a log file; stopped with SIGTERM, or killed."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group (a worker and its pool), as a crash would."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(10)


def process_group(pgid: int) -> list[int]:
    """The live processes (not zombies) of a process group: a worker and its pool, granian and
    its workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def environment_of(pid: int) -> dict[str, str]:
    """A running process's environment, as the kernel shows it (/proc/PID/environ)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw.split(b"\0") if item)


def mutt_env(redis_url: str, database_url: str, home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MUTT_ENV="test", MUTT_HOME=str(home), REDIS_URL=redis_url, DATABASE_URL=database_url,
        SECRET_KEY="integration-tests-only", SESSION_COOKIE_SECURE="false", LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(home / "prometheus"),
    )
    env.pop("CELERY_BROKER_URL", None)
    env.update(extra)
    (home / "prometheus").mkdir(parents=True, exist_ok=True)
    return env


def mutt(*args: str) -> list[str]:
    return [sys.executable, "-m", "mutt_app.cli", *args]


def start_web(env: dict[str, str], log_dir: Path, workers: int = 2, name: str = "web") -> tuple[Process, str]:
    port = free_port()
    process = Process(name, mutt("web", "--port", str(port), "--workers", str(workers)), env, log_dir)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health", process)
    # granian answers as soon as one worker is up; a worker still starting when SIGTERM comes
    # ignores it and is killed only after the 20 s grace, so wait for them all.
    for worker in range(1, workers + 1):
        wait_log(process, f"Started worker-{worker}")
    return process, url


def start_standin(env: dict[str, str], log_dir: Path, name: str = "standin") -> tuple[Process, str]:
    """`mutt moog-standin` on a free port: (process, its /events URL)."""
    port = free_port()
    process = Process(name, mutt("moog-standin", "--port", str(port)), env, log_dir)
    wait_http(f"http://127.0.0.1:{port}/health", process)
    wait_log(process, "Started worker-1")
    return process, f"http://127.0.0.1:{port}/events"


def start_worker(env: dict[str, str], log_dir: Path, queues: str = "alerts,moog,janitor,remediation",
                 concurrency: int = 2, name: str = "worker") -> Process:
    process = Process(name, mutt("worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}-{os.getpid()}@%h"), env, log_dir)
    wait_log(process, " ready.")
    return process


def start_beat(env: dict[str, str], log_dir: Path) -> Process:
    process = Process("beat", mutt("beat"), env, log_dir)
    wait_log(process, "beat: Starting")
    return process


def wait_http(url: str, process: Process, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.log()[-3000:]}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s:\n{process.log()[-3000:]}")


def wait_log(process: Process, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in process.log():
            return
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.log()[-3000:]}")
        time.sleep(0.1)
    raise TimeoutError(f"{process.name} did not log {text!r} within {timeout} s:\n{process.log()[-3000:]}")


def wait_until(predicate, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} not reached within {timeout} s")
        time.sleep(interval)
