"""/health/<component> without workers or beat: 503 saying why (the integration tests see 200)."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

from mutt_app import dynconfig
from mutt_app.forwarding.breaker import CircuitBreaker
from mutt_app.operations import jobs
from tests.support.processes import wait_until
from web import health


def test_without_workers_every_component_is_unhealthy_and_says_why(client, monkeypatch):
    monkeypatch.setattr(health, "INSPECT_TIMEOUT", 0.2)
    monkeypatch.setattr(health, "_consumers", (-100.0, {}))
    for component, queue in (("forwarder", "moog"), ("alerter", "alerts"), ("remediation", "remediation")):
        response = client.get(f"/health/{component}")
        assert response.status_code == 503
        assert f"no worker consumes the {queue} queue" in response.json["reasons"]
    assert "has not run yet" in client.get("/health/beat").json["reasons"][0]


def test_beat_is_healthy_while_the_janitor_runs_and_not_when_it_stopped(client, redis):
    jobs.mark_ran(redis, jobs.JANITOR)
    response = client.get("/health/beat")
    assert response.status_code == 200 and response.json["status"] == "healthy"
    jobs.mark_ran(redis, jobs.JANITOR, at=time.time() - 3600)
    response = client.get("/health/beat")
    assert response.status_code == 503 and "last ran 3600 s ago" in response.json["reasons"][0]


def test_forwarder_reports_an_open_breaker(client, redis, monkeypatch):
    monkeypatch.setattr(health, "_consumers", (time.monotonic(), {"moog": ["w1@host"]}))
    assert client.get("/health/forwarder").status_code == 200
    for _ in range(dynconfig.get("circuit_breaker_threshold")):
        CircuitBreaker(redis).record_failure()
    response = client.get("/health/forwarder")
    assert response.status_code == 503 and response.json["circuit_breaker"] == "open"
    assert "circuit breaker is open" in response.json["reasons"][0]


def test_an_unreachable_broker_is_a_503_not_a_500(client, monkeypatch):
    def no_broker(*_args, **_kwargs):
        raise ConnectionError("refused")

    monkeypatch.setattr(health.status, "workers", no_broker)
    monkeypatch.setattr(health, "_consumers", (-100.0, {}))
    response = client.get("/health/alerter")
    assert response.status_code == 503 and "cannot ask the workers" in response.json["reasons"][0]


def test_checks_never_wait_for_the_workers_broadcast_while_an_answer_is_at_hand(app, monkeypatch):
    """/health/* is unauthenticated and asking the workers waits INSPECT_TIMEOUT (1 s) for their
    answers: however many checks come while they are asked, none waits, and one broadcast runs."""
    broadcasts = []
    ask = health.status.workers

    def counted(*args, **kwargs):  # the real broadcast over the test Redis; no worker answers
        broadcasts.append(time.monotonic())
        return ask(*args, **kwargs)

    monkeypatch.setattr(health.status, "workers", counted)
    expired = time.monotonic() - health.CONSUMERS_TTL - 1
    monkeypatch.setattr(health, "_consumers", (expired, {"moog": ["moog@host"]}))

    def check(_):
        started = time.monotonic()
        response = app.test_client().get("/health/forwarder")
        return response.status_code, time.monotonic() - started

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(check, range(16)))
    assert {status for status, _ in answers} == {200}  # the answer at hand: moog@host consumes moog
    assert max(seconds for _, seconds in answers) < 0.5, answers
    assert len(broadcasts) == 1

    # the broadcast's answer (no worker) replaces it once it is in
    wait_until(lambda: health._consumers[0] > expired, timeout=health.INSPECT_TIMEOUT + 2, message="new answer")
    response = app.test_client().get("/health/forwarder")
    assert response.status_code == 503 and "no worker consumes the moog queue" in response.json["reasons"]
    assert len(broadcasts) == 1


def test_forwarder_is_unhealthy_while_alerts_wait_and_none_is_delivered(client, monkeypatch):
    """Every send failing, the breaker still closed: /health/forwarder says so (today it said healthy)."""
    from datetime import datetime, timedelta

    from tests.support.alerts import insert_alerts

    monkeypatch.setattr(health, "_consumers", (time.monotonic(), {"moog": ["w1@host"]}))
    monkeypatch.setattr(health, "FORWARDING_TTL", 0.0)
    assert client.get("/health/forwarder").status_code == 200
    insert_alerts(1, created_at=datetime.now(UTC) - timedelta(minutes=10), attempts=4, last_error="HTTP 502")
    response = client.get("/health/forwarder")
    assert response.status_code == 503 and response.json["circuit_breaker"] == "closed"
    assert response.json["reasons"][0].startswith("forwarding is stalled: an alert has waited 6")
    assert response.json["reasons"][0].endswith("(4 attempts, last error: HTTP 502)")
    assert response.json["forwarding"]["delivered_in_window"] is False
