"""A forwarder that keeps failing is visible to an operator: `mutt status` lists it under Problems
(and exits 1) and /health/forwarder answers 503 with it, while the circuit breaker stays closed.
Real worker and web processes, PostgreSQL, Redis, and the Moogsoft stand-in answering 503 to
every request. (Before: "Problems none" and a healthy forwarder while nothing was delivered.)"""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from mutt_app import dynconfig
from mutt_app.handoff import forward_alerts
from tests.support.alerts import insert_alerts, states
from tests.support.processes import mutt, mutt_env, start_web, start_worker, wait_until

pytestmark = pytest.mark.integration

STALL_SECONDS = 10  # forwarding_stall_seconds, its minimum


def test_moogsoft_failing_every_request_shows_in_status_and_health(redis, pg_url, standin, tmp_path):
    from tests.conftest import REDIS_URL

    runtime = dynconfig.runtime(redis)
    runtime.store("forwarding_stall_seconds", STALL_SECONDS)
    runtime.store("circuit_breaker_threshold", 10_000)  # the breaker never opens: only the alerts tell
    standin.behave(503)
    env = mutt_env(REDIS_URL, pg_url, tmp_path / "home", MOOG_WEBHOOK_URL=standin.url, MOOG_TIMEOUT="2",
                   MOOG_RETRY_BACKOFF="1", MOOG_RETRY_BACKOFF_MAX="2",
                   MOOG_MAX_RETRIES="1000")  # the alerts keep waiting (retries exhausted: test_status.py)
    worker = start_worker(env, tmp_path, queues="moog", concurrency=1)
    web, url = start_web(env, tmp_path, workers=1)
    try:
        ids = insert_alerts(3)
        forward_alerts(ids)
        wait_until(lambda: len(standin.received) >= 6, timeout=30, message="every send failing and retried")
        assert set(states(ids)) <= {"pending", "sending"}

        def status_problem():
            result = subprocess.run(mutt("status", "--json", "--timeout", "1"), env=env, capture_output=True,
                                    text=True, timeout=60)
            report = json.loads(result.stdout)
            found = [p for p in report["problems"] if p.startswith("forwarding is stalled")]
            return found and (result.returncode, report, found[0])

        code, report, problem = wait_until(status_problem, timeout=STALL_SECONDS + 30, interval=1,
                                           message="mutt status names the stalled forwarder")
        assert code == 1 and report["breaker"]["state"] == "closed"
        assert f"none was delivered in the last {STALL_SECONDS} s" in problem and "last error: " in problem
        assert "503" in problem

        def health_problem():
            answer = requests.get(url + "/health/forwarder", timeout=10)
            reasons = answer.json().get("reasons", [])
            return answer.status_code == 503 and any(r.startswith("forwarding is stalled") for r in reasons) and answer.json()

        health = wait_until(health_problem, timeout=15, interval=0.5, message="/health/forwarder says so")
        assert health["circuit_breaker"] == "closed" and health["workers"], health
    finally:
        web.stop()
        worker.stop()
