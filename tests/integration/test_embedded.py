"""The README's first command: `mutt up` on a bare machine (embedded Redis, SQLite), checked from
the outside with `mutt smoke`, then stopped with SIGTERM leaving nothing running."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from mutt_app.operations import supervisor
from tests.support.processes import Process, environment_of, free_port, mutt, process_group, wait_http, wait_log

pytestmark = pytest.mark.integration


def test_mutt_up_runs_everything_passes_smoke_and_stops_cleanly(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR", "MOOG_WEBHOOK_URL")}
    env.update(MUTT_HOME=str(home), MUTT_ENV="development", MUTT_ADMIN_PASSWORD="embedded-test-" + os.urandom(6).hex())
    port, syslog_port, trap_port = free_port(), free_port(), free_port()
    previous_umask = os.umask(0o022)  # the common umask, under which a plain create is readable by everyone
    up = Process("up", mutt("up", "--port", str(port), "--syslog-port", str(syslog_port), "--trap-port", str(trap_port)), env, tmp_path)
    os.umask(previous_umask)
    try:
        wait_log(up, "MUTT is up", timeout=90)
        wait_http(f"http://127.0.0.1:{port}/health", up, timeout=60)  # "up" is printed as the web server starts
        assert "created user admin, password: from MUTT_ADMIN_PASSWORD" in up.log()
        assert f"syslog         udp and tcp 127.0.0.1:{syslog_port}" in up.log()
        assert f"snmp traps     udp 127.0.0.1:{trap_port}" in up.log()
        assert "listen" in supervisor.read_record(home)["children"]
        assert (home / "mutt.db").exists()
        assert (home / "redis.aof").exists() or (home / "appendonlydir").exists()  # AOF on (Redis 6 / 7 layout)
        # password and key digests, queued events, the session key: the owner's alone (umask 022 here)
        private = [home / "mutt.db", home / "secret_key", home / "ingest_api_key",
                   *[p for p in home.rglob("*") if "aof" in p.name or p.name.startswith("mutt.db-")]]
        modes = {str(p.relative_to(home)): oct(p.stat().st_mode & 0o777) for p in private}
        assert set(modes.values()) <= {"0o600", "0o700"} and "aof" in " ".join(modes), modes
        assert home.stat().st_mode & 0o777 == 0o700
        # the admin password given to `mutt up` reaches no process it starts
        pids = [pid for child in supervisor.read_record(home)["children"].values() for pid in process_group(child["pid"])]
        assert len(pids) >= 6  # redis, granian and its worker, celery and its pool, beat
        assert all("MUTT_ADMIN_PASSWORD" not in environment_of(pid) for pid in pids)
        assert "MUTT_ADMIN_PASSWORD" in environment_of(up.pid)
        key = (home / "ingest_api_key").read_text().strip()
        smoke = subprocess.run(mutt("smoke", f"http://127.0.0.1:{port}", "--timeout", "60"),
                               env={**env, "MUTT_SMOKE_KEY": key}, capture_output=True, text=True, timeout=120)
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert "[ok  ] event processed" in smoke.stdout
        assert key not in smoke.stdout + smoke.stderr  # the key is never printed
    finally:
        if up.alive():
            up.popen.send_signal(signal.SIGTERM)
        code = up.popen.wait(60)
    assert code == 0, up.log()[-2000:]
    assert up.log().rstrip().endswith("stopped")
    leftovers = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], "mutt up left processes running"
