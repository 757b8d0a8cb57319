"""Keep the processes `mutt up` starts running: a child that dies is started again after a backoff,
a child that keeps dying (a crash loop) stops everything with a clear message.

A child is a name and a way to start it (``launch``, returning a :class:`subprocess.Popen`). The
supervisor is polled (:meth:`Supervisor.check`) from `mutt up`'s main loop; it never blocks there
except while a child starts. Restarts are counted per child in a small JSON file (MUTT_HOME/
``RESTARTS_FILE``) that `mutt status` prints, so an operator sees that a worker was OOM-killed
even though nothing stopped.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mutt_app.errors import MuttError

RESTART_LIMIT = 5        # restarts of one child within RESTART_WINDOW seconds; one more death is a crash loop
RESTART_WINDOW = 120.0
BACKOFF_FIRST = 0.5      # seconds before the first restart; doubled for each restart within the window
BACKOFF_MAX = 10.0
RESTARTS_FILE = "restarts.json"


class CrashLoop(MuttError, RuntimeError):
    """A child died again after RESTART_LIMIT restarts within RESTART_WINDOW seconds."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def die_with_parent() -> None:
    """A child gets SIGTERM if its parent (`mutt up`) dies (Linux); for ``preexec_fn``."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start ``args`` in a session of its own (so it and its own children are stopped together),
    output appended to ``log``, dying with its parent."""
    with open(log, "ab") as handle:
        return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=die_with_parent)


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of a child's session (its own children: a worker's pool, granian's
    workers), so that none keeps a port, a socket or a task while the child starts again."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@dataclass
class Child:
    name: str
    launch: Callable[[], subprocess.Popen]
    log: Path | None = None            # named in messages about this child
    stop_last: bool = False            # stopped after the others (the Redis they use)
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)  # when it was started again (monotonic)
    last_exit: int | str | None = None  # exit status (negative: killed by that signal), or why it failed to start
    restart_due: float | None = None   # a dead child starts again at this time

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Children started, watched, restarted with backoff, and stopped together."""

    def __init__(self, record: Path | None = None, limit: int = RESTART_LIMIT, window: float = RESTART_WINDOW,
                 backoff_first: float = BACKOFF_FIRST, backoff_max: float = BACKOFF_MAX,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.children: list[Child] = []
        self.record_path = record
        self.limit, self.window = limit, window
        self.backoff_first, self.backoff_max = backoff_first, backoff_max
        self.clock = clock
        self.started_at = _now()
        self.stopped_at: str | None = None

    def start(self, name: str, launch: Callable[[], subprocess.Popen], log: Path | None = None,
              stop_last: bool = False) -> Child:
        """Start a child now; an error starting it the first time is raised."""
        child = Child(name, launch, log, stop_last)
        child.process = launch()
        self.children.append(child)
        self.record()
        return child

    def backoff(self, child: Child) -> float:
        """Seconds to wait before starting ``child`` again: doubles with each recent restart."""
        recent = len(self._recent(child))
        return min(self.backoff_first * 2 ** recent, self.backoff_max)

    def _recent(self, child: Child) -> list[float]:
        since = self.clock() - self.window
        return [at for at in child.restarts if at >= since]

    def check(self) -> list[str]:
        """One round: notice children that died, start again those whose backoff has passed.

        Returns what happened, one line each, for the operator. Raises :class:`CrashLoop` when a
        child died after ``limit`` restarts within ``window`` seconds.
        """
        notes = []
        for child in self.children:
            if child.restart_due is None and not child.alive():
                if child.process is not None:
                    child.last_exit = child.process.returncode
                    _kill_group(child.process.pid)
                if len(self._recent(child)) >= self.limit:
                    self.record()
                    raise CrashLoop(self._crash_loop_message(child))
                delay = self.backoff(child)
                child.restart_due = self.clock() + delay
                notes.append(f"{child.name} exited with {child.last_exit}; starting it again in {delay:.1f} s"
                             + (f" (log: {child.log})" if child.log else ""))
            if child.restart_due is not None and self.clock() >= child.restart_due:
                notes.append(self._restart(child))
        return notes

    def _restart(self, child: Child) -> str:
        child.restart_due = None
        child.restarts.append(self.clock())
        try:
            child.process = child.launch()
        except Exception as error:  # noqa: BLE001 - a failed start counts as a death, the next check decides
            child.process = None
            child.last_exit = f"{type(error).__name__}: {error}"
            self.record()
            return f"{child.name} failed to start: {child.last_exit}"
        self.record()
        return f"{child.name} started again (pid {child.pid}, restart {len(child.restarts)})"

    def _crash_loop_message(self, child: Child) -> str:
        where = f"; see {child.log}" if child.log else ""
        return (f"{child.name} keeps dying: it exited with {child.last_exit} after {self.limit} restarts "
                f"within {self.window:.0f} s{where}. Stopping MUTT.")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM every child (those marked ``stop_last`` once the others have stopped); a child
        still running after ``timeout`` seconds is SIGKILLed with its process group."""
        for last in (False, True):
            group = [child.process for child in self.children
                     if child.stop_last is last and child.process is not None and child.alive()]
            for process in group:
                process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for process in group:
                try:
                    process.wait(max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    _kill_group(process.pid)
                    process.wait()
        self.stopped_at = _now()
        self.record()

    def snapshot(self) -> dict[str, Any]:
        """What :meth:`record` writes and `mutt status` shows."""
        return {
            "supervisor_pid": os.getpid(), "started": self.started_at, "stopped": self.stopped_at,
            "children": {child.name: {"pid": child.pid, "restarts": len(child.restarts), "last_exit": child.last_exit}
                         for child in self.children},
        }

    def record(self) -> None:
        """Write :meth:`snapshot` to the record file, whole or not at all (a reader never sees half)."""
        if self.record_path is None:
            return
        partial = self.record_path.with_name(self.record_path.name + ".partial")
        partial.write_text(json.dumps(self.snapshot(), indent=1))
        os.replace(partial, self.record_path)


def read_record(home: Path) -> dict[str, Any]:
    """The restarts `mutt up` recorded in ``home`` ({} when none runs or ran there)."""
    path = home / RESTARTS_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text())
