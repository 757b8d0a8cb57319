"""/health: a failed check answers a short, safe reason (no password, no SQL, no traceback); the
log has the detail, once per failure rather than at every poll. Real servers: ports where nothing
listens."""

import logging

import pytest

from mutt_app import config
from tests.support.faults import closed_port_url
from web import create_app


@pytest.fixture
def health_of(monkeypatch, redis, sqlite_url):
    def get(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        config.reset()
        return create_app().test_client().get("/health")

    yield get
    monkeypatch.undo()
    config.reset()


def test_redis_down_is_answered_with_why_and_logged_once_with_the_traceback(health_of, caplog):
    url = closed_port_url().replace("redis://", "redis://:s3cret-pass@")
    port = url.rsplit(":", 1)[1].split("/")[0]
    with caplog.at_level(logging.WARNING, logger="web.health"):
        first, second = health_of(REDIS_URL=url), health_of(REDIS_URL=url)
    assert first.status_code == 503 and first.json["database"] == "ok"
    assert first.json["redis"] == f"unreachable: ConnectionError: Error 111 connecting to 127.0.0.1:{port}. Connection refused."
    assert second.json == first.json and "s3cret" not in first.get_data(as_text=True)
    logged = [record for record in caplog.records if record.name == "web.health"]
    assert len(logged) == 1 and logged[0].exc_info and "health: redis failed: ConnectionError" in logged[0].getMessage()


def test_a_database_down_is_answered_with_the_drivers_first_line_only(health_of, caplog):
    url = closed_port_url("postgresql").replace("postgres@", "postgres:s3cret-pass@")
    with caplog.at_level(logging.WARNING, logger="web.health"):
        answer = health_of(DATABASE_URL=url)
    reason = answer.json["database"]
    assert answer.status_code == 503 and answer.json["redis"] == "ok"
    assert reason.startswith("unreachable: OperationalError: connection failed: ") and "Connection refused" in reason
    assert "s3cret" not in answer.get_data(as_text=True) and "sqlalche.me" not in reason and "SELECT" not in reason
    assert "s3cret" not in caplog.text


def test_a_component_check_that_fails_says_why(health_of, monkeypatch):
    from web import health

    monkeypatch.setattr(health, "INSPECT_TIMEOUT", 0.2)
    monkeypatch.setattr(health, "_consumers", (-100.0, {}))
    monkeypatch.setenv("REDIS_URL", closed_port_url())
    config.reset()
    answer = create_app().test_client().get("/health/beat")
    assert answer.status_code == 503
    assert answer.json["reasons"][0].startswith("cannot check: ConnectionError: Error 111 connecting to 127.0.0.1:")
