"""The supervisor of `mutt up`, with real tiny child processes (python -c ...)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from mutt_app.operations import supervisor
from mutt_app.operations.supervisor import CrashLoop, Supervisor
from tests.support.processes import process_group, wait_until

SLEEPER = "import time; time.sleep(60)"


def launcher(code: str, log):
    return lambda: supervisor.spawn([sys.executable, "-c", code], dict(os.environ), log)


def supervise_until(children: Supervisor, predicate, timeout: float = 20):
    notes: list[str] = []

    def done():
        notes.extend(children.check())
        return predicate()

    wait_until(done, timeout=timeout, interval=0.05, message="supervised state")
    return notes


@pytest.fixture
def children(tmp_path):
    made = Supervisor(tmp_path / supervisor.RESTARTS_FILE, backoff_first=0.1, backoff_max=0.4)
    yield made
    made.stop(timeout=5)


def test_a_sigkilled_child_is_started_again_and_the_restart_is_recorded(children, tmp_path):
    worker = children.start("worker", launcher(SLEEPER, tmp_path / "worker.log"), tmp_path / "worker.log")
    other = children.start("beat", launcher(SLEEPER, tmp_path / "beat.log"))
    first_pid = worker.pid
    assert children.check() == []

    os.kill(first_pid, signal.SIGKILL)
    notes = supervise_until(children, lambda: worker.alive() and worker.pid != first_pid)

    assert notes[0].startswith(f"worker exited with -{signal.SIGKILL.value}; starting it again in 0.1 s")
    assert notes[1] == f"worker started again (pid {worker.pid}, restart 1)"
    assert other.alive() and len(other.restarts) == 0
    record = supervisor.read_record(tmp_path)
    assert record["children"]["worker"] == {"pid": worker.pid, "restarts": 1, "last_exit": -9}
    assert record["children"]["beat"]["restarts"] == 0 and record["stopped"] is None


def test_a_child_that_always_dies_is_a_crash_loop_after_the_limit_of_restarts(tmp_path):
    log = tmp_path / "worker.log"
    children = Supervisor(tmp_path / supervisor.RESTARTS_FILE, limit=3, window=60, backoff_first=0.05, backoff_max=0.2)
    children.start("worker", launcher("import sys; print('bad configuration'); sys.exit(3)", log), log)
    started = time.monotonic()
    with pytest.raises(CrashLoop) as raised:
        supervise_until(children, lambda: False)
    assert time.monotonic() - started < 10
    assert str(raised.value) == f"worker keeps dying: it exited with 3 after 3 restarts within 60 s; see {log}. Stopping MUTT."
    assert log.read_text().count("bad configuration") == 4  # started once, again three times
    assert supervisor.read_record(tmp_path)["children"]["worker"]["restarts"] == 3


def test_backoff_doubles_with_each_restart_within_the_window_and_is_capped():
    now = [1000.0]
    children = Supervisor(backoff_first=0.5, backoff_max=4, window=120, clock=lambda: now[0])
    child = supervisor.Child("worker", launch=lambda: None)
    delays = []
    for _ in range(6):
        delays.append(children.backoff(child))
        child.restarts.append(now[0])
    assert delays == [0.5, 1, 2, 4, 4, 4]
    now[0] += 121  # restarts long ago no longer count
    assert children.backoff(child) == 0.5


def test_a_child_that_fails_to_start_again_counts_as_a_death_and_is_retried(children, tmp_path):
    attempts = []

    def launch():
        attempts.append(time.monotonic())
        if len(attempts) == 2:
            raise RuntimeError("embedded redis-server exited with 1")
        return supervisor.spawn([sys.executable, "-c", SLEEPER], dict(os.environ), tmp_path / "redis.log")

    redis = children.start("redis", launch)
    os.kill(redis.pid, signal.SIGKILL)
    notes = supervise_until(children, lambda: len(attempts) == 3 and redis.alive())
    assert "redis failed to start: RuntimeError: embedded redis-server exited with 1" in notes
    assert notes[-1] == f"redis started again (pid {redis.pid}, restart 2)"


def test_stop_ends_the_others_before_a_stop_last_child_and_kills_one_that_ignores_sigterm(tmp_path):
    flag = tmp_path / "web-stopped"
    seen_by_redis = tmp_path / "redis-saw"

    def ready(name: str) -> str:  # the child says when its SIGTERM handler is in place
        return f"pathlib.Path({str(tmp_path / (name + '.ready'))!r}).write_text('')\ntime.sleep(60)"

    web = (f"import signal, sys, time, pathlib\n"
           f"def bye(*_): time.sleep(0.3); pathlib.Path({str(flag)!r}).write_text('x'); sys.exit(0)\n"
           f"signal.signal(signal.SIGTERM, bye)\n{ready('web')}")
    redis = (f"import signal, sys, time, pathlib\n"
             f"def bye(*_): pathlib.Path({str(seen_by_redis)!r}).write_text(str(pathlib.Path({str(flag)!r}).exists())); sys.exit(0)\n"
             f"signal.signal(signal.SIGTERM, bye)\n{ready('redis')}")
    stubborn = f"import signal, time, pathlib\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n{ready('beat')}"
    children = Supervisor(tmp_path / supervisor.RESTARTS_FILE)
    children.start("redis", launcher(redis, tmp_path / "redis.log"), stop_last=True)
    children.start("web", launcher(web, tmp_path / "web.log"))
    beat = children.start("beat", launcher(stubborn, tmp_path / "beat.log"))
    wait_until(lambda: all((tmp_path / f"{name}.ready").exists() for name in ("redis", "web", "beat")), timeout=10,
               interval=0.02, message="the children's SIGTERM handlers installed")

    children.stop(timeout=2)
    assert seen_by_redis.read_text() == "True"  # web had stopped when redis was told to
    assert beat.process.returncode == -signal.SIGKILL
    assert supervisor.read_record(tmp_path)["stopped"] is not None


def test_no_record_reads_as_nothing(tmp_path):
    assert supervisor.read_record(tmp_path) == {}


def test_what_a_dead_child_leaves_behind_in_its_group_is_killed_before_it_starts_again(children, tmp_path):
    grandchild_pid = tmp_path / "grandchild.pid"
    parent = (f"import subprocess, sys, pathlib, time\n"
              f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              f"pathlib.Path({str(grandchild_pid)!r}).write_text(str(p.pid))\ntime.sleep(60)")
    web = children.start("web", launcher(parent, tmp_path / "web.log"))
    first = web.pid
    wait_until(grandchild_pid.exists, timeout=10, message="the grandchild started")
    orphan = int(grandchild_pid.read_text())
    assert orphan in process_group(first)
    os.kill(first, signal.SIGKILL)  # the parent only, as the OOM killer picks one process
    supervise_until(children, lambda: web.alive() and web.pid != first)
    wait_until(lambda: not process_group(first), timeout=5, message="the orphan killed")
