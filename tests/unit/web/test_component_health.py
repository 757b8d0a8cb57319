"""/health/<component> without workers or beat: 503 saying why (the integration tests see 200)."""

import time

from mutt_app import dynconfig, jobs
from mutt_app.breaker import CircuitBreaker
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
