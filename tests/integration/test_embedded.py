"""The README's first command: `mutt up` on a bare machine (embedded Redis, SQLite), checked from
the outside with `mutt smoke`, then stopped with SIGTERM leaving nothing running."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.support.processes import Process, free_port, mutt, wait_http, wait_log

pytestmark = pytest.mark.integration


def test_mutt_up_runs_everything_passes_smoke_and_stops_cleanly(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR", "MOOG_WEBHOOK_URL")}
    env.update(MUTT_HOME=str(home), MUTT_ENV="development", MUTT_ADMIN_PASSWORD="embedded-test-" + os.urandom(6).hex())
    port = free_port()
    up = Process("up", mutt("up", "--port", str(port)), env, tmp_path)
    try:
        wait_log(up, "MUTT is up", timeout=90)
        wait_http(f"http://127.0.0.1:{port}/health", up, timeout=60)  # "up" is printed as the web server starts
        assert "created user admin, password: from MUTT_ADMIN_PASSWORD" in up.log()
        assert (home / "mutt.db").exists()
        assert (home / "redis.aof").exists() or (home / "appendonlydir").exists()  # AOF on (Redis 6 / 7 layout)
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
