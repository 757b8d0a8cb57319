"""Redis or the database down or hung: the REST API, ingest, /login and the UI answer 503 with
Retry-After within the configured timeouts (never a 500 page, never a hung thread); /health answers
503 and /metrics 200, each within 2 s. Real servers: a port where nothing listens (down), a socket
server that accepts and never answers (hung), real SQLite and PostgreSQL URLs."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from mutt_app import config, dynconfig
from mutt_app.access import api_keys
from mutt_app.storage import redis_client
from mutt_app.storage.db import session_scope
from tests.support.faults import SilentServer, closed_port_url
from tests.support.web import PASSWORD, csrf_token, login, make_user

EVENT = {"hostname": "core-router-01", "message": "link down"}


@pytest.fixture
def admin_key(redis, sqlite_url):
    with session_scope() as session:
        _, secret = api_keys.create(session, "on-call", ["admin", "ingest"], actor="test")
    return secret


def app_with(monkeypatch, **env):
    """A fresh app whose process settings point at ``env`` (REDIS_URL, DATABASE_URL)."""
    from web import create_app

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    forget_clients()
    app = create_app()
    app.config.update(TESTING=True, MUTT_INGEST_FLUSHER=False)
    return app


def forget_clients() -> None:
    """New services for this process, from the changed environment (settings, clients, caches)."""
    config.reset()


@pytest.fixture
def restore_settings():
    yield
    forget_clients()


def post_login(client):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": "admin", "password": "x", "csrf_token": token})


def timed(call):
    started = time.monotonic()
    answer = call()
    return time.monotonic() - started, answer


def assert_unavailable(answer, seconds: float, bound: float, dependency: str) -> None:
    assert answer.status_code == 503, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert int(answer.headers["Retry-After"]) >= 1
    assert dependency in answer.get_data(as_text=True) and "Traceback" not in answer.get_data(as_text=True)
    assert seconds < bound, f"answered after {seconds:.2f} s (bound {bound} s)"


@pytest.fixture(params=["down", "hung"])
def broken_redis(request):
    if request.param == "down":
        yield closed_port_url("redis")
        return
    server = SilentServer()
    yield server.url
    server.close()


def test_redis_down_or_hung_api_ingest_login_answer_503_with_retry_after_health_503_metrics_200_within_bounds(
        monkeypatch, restore_settings, admin_key, broken_redis):
    client = app_with(monkeypatch, REDIS_URL=broken_redis).test_client()
    bound = redis_client.timeout() + 1.0       # one command's timeout, then the answer
    headers = {"X-API-KEY": admin_key}

    seconds, answer = timed(lambda: client.get("/api/v2/rules", headers=headers))
    assert_unavailable(answer, seconds, bound, "Redis")
    assert answer.get_json()["error"].startswith("Service Unavailable - Redis is unavailable")
    seconds, answer = timed(lambda: client.post("/api/v2/ingest", json=EVENT, headers=headers))
    assert_unavailable(answer, seconds, bound, "Redis")
    seconds, answer = timed(lambda: post_login(client))
    assert_unavailable(answer, seconds, bound, "Redis")
    assert answer.mimetype == "text/html"

    seconds, answer = timed(lambda: client.get("/health"))
    assert answer.status_code == 503 and answer.get_json()["redis"].startswith("unreachable") and seconds < 2.0
    seconds, answer = timed(lambda: client.get("/metrics"))
    assert answer.status_code == 200 and seconds < 2.0, seconds


@pytest.fixture(params=["sqlite", "postgresql"])
def broken_database(request, tmp_path):
    if request.param == "sqlite":  # a file SQLite cannot open (a directory stands in its way)
        (tmp_path / "outage" / "mutt.db").mkdir(parents=True)
        return f"sqlite:///{tmp_path / 'outage' / 'mutt.db'}"
    return closed_port_url("postgresql")


def test_database_down_api_login_and_ui_answer_503_with_retry_after(
        monkeypatch, restore_settings, redis, sqlite_url, broken_database):
    app = app_with(monkeypatch)
    make_user("operator", "operator")
    browser = app.test_client()
    assert login(browser, "operator").status_code == 302  # a browser that logged in before the outage
    monkeypatch.setenv("DATABASE_URL", broken_database)
    config.reset()
    client = app.test_client()
    bound = 5.0

    seconds, answer = timed(lambda: client.get("/api/v2/rules", headers={"X-API-KEY": "mutt_abcdef12_whatever"}))
    assert_unavailable(answer, seconds, bound, "the database")
    seconds, answer = timed(lambda: post_login(client))
    assert_unavailable(answer, seconds, bound, "the database")
    seconds, answer = timed(lambda: browser.get("/"))
    assert_unavailable(answer, seconds, bound, "the database")
    assert "<h1>503</h1>" in answer.get_data(as_text=True)

    seconds, answer = timed(lambda: client.get("/health"))
    assert answer.status_code == 503 and answer.get_json()["database"].startswith("unreachable") and seconds < 2.0
    seconds, answer = timed(lambda: client.get("/metrics"))
    assert answer.status_code == 200 and seconds < 2.0, seconds


def test_a_sqlite_database_locked_by_another_writer_answers_503_after_the_busy_timeout_not_30_s(
        monkeypatch, restore_settings, redis, sqlite_url):
    monkeypatch.setenv("DATABASE_TIMEOUT", "1")  # before the engine is made: it reads it once
    app = app_with(monkeypatch)
    make_user("operator", "operator")
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    writer = sqlite3.connect(sqlite_url.split("///", 1)[1], isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        seconds, answer = timed(lambda: client.post(
            "/login", data={"username": "operator", "password": PASSWORD, "csrf_token": token}))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert_unavailable(answer, seconds, 2.5, "the database")
    assert seconds >= 1.0  # it did wait for the lock, DATABASE_TIMEOUT long


def test_threads_that_need_a_hung_redis_fail_together_not_one_timeout_after_another(redis):
    """The API-key cache and the runtime settings each check Redis under a lock: while Redis
    hangs, eight threads must not wait out eight timeouts in turn (they did: 16 s for 8 calls)."""
    from mutt_app.access.api_keys import KeyCache
    from mutt_app.dynconfig import RuntimeConfig

    server = SilentServer()
    try:
        hung = redis_client.get(server.url)
        cache, settings = KeyCache(hung), RuntimeConfig(hung)

        def outcome(call):
            try:
                return call()
            except Exception as error:  # noqa: BLE001 - the answer is the error
                return type(error).__name__

        def verify_then_read(_):
            started = time.monotonic()
            failed = outcome(lambda: cache.verify("mutt_abcdef12_secret"))
            # the thread that checks fails; the others, after that one failed check, get the default
            read = outcome(lambda: settings.get("ingest_batch_size"))
            return failed, read, time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(verify_then_read, range(8)))
        took = time.monotonic() - started
    finally:
        server.close()
    assert {failed for failed, _, _ in answers} == {"TimeoutError"}
    assert {read for _, read, _ in answers} <= {"TimeoutError", dynconfig.REGISTRY["ingest_batch_size"].default}
    assert took < 2 * redis_client.timeout() + 1.0, (took, answers)
