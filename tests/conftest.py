"""Shared fixtures: real Redis, real SQLite/PostgreSQL, the Flask app, a Celery worker.

The environment is set before any MUTT module is imported, because celeryconfig reads it once;
REDIS_URL is set when pytest is configured, before any test module (and so celeryconfig) is imported.
Every test runs with fresh services (``fresh_services``): its own settings, clients, engines and
caches, as a new MUTT process would have them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support import services

_TMP = Path(tempfile.mkdtemp(prefix="mutt-tests-"))
_INTEGRATION = Path(__file__).resolve().parent / "integration"
REDIS_URL = ""  # the session's Redis, set by pytest_configure
os.environ.update(
    MUTT_ENV="test",
    MUTT_HOME=str(_TMP / "home"),
    DATABASE_URL=f"sqlite:///{_TMP / 'session.db'}",
    LOG_FORMAT="text",
    SESSION_COOKIE_SECURE="false",
)
os.environ.pop("CELERY_BROKER_URL", None)

from sqlalchemy import text  # noqa: E402

from mutt_app import config  # noqa: E402
from mutt_app import services as process_services  # noqa: E402
from mutt_app.storage import db, migrate  # noqa: E402
from mutt_app.storage import redis_client as rc  # noqa: E402
from mutt_app.storage.models import Base  # noqa: E402
from tests.support.fixtures import admin, api, clock, operator, reader, stack, worker  # noqa: E402, F401 - shared fixtures

_TEMPLATE_DB = _TMP / "template.db"
migrate.upgrade(f"sqlite:///{_TEMPLATE_DB}")
db.engine(f"sqlite:///{_TEMPLATE_DB}").dispose()  # checkpoints the WAL into the file we copy
_PG_URL = services.postgres_url()
_pg_migrated = False


def pytest_configure(config):
    """Unit tests get a Redis of their own; a session with integration tests uses the real one."""
    global REDIS_URL, _session_redis
    _session_redis = services.SessionRedis(own=not _includes_integration_tests(config.args))
    REDIS_URL = os.environ["REDIS_URL"] = _session_redis.url


def pytest_unconfigure(config):
    from mutt_app.core import logs

    logs.stop_following()  # the log-level thread reads Redis: it stops before the session's Redis does
    _session_redis.stop()


def _includes_integration_tests(args: list[str]) -> bool:
    for arg in args:
        path = Path(arg.split("::")[0]).resolve()
        if path == _INTEGRATION or _INTEGRATION in path.parents or path in _INTEGRATION.parents:
            return True
    return False


def use_database(url: str) -> None:
    """Point MUTT (this process) at ``url``."""
    os.environ["DATABASE_URL"] = url
    config.reset()


@pytest.fixture(autouse=True)
def fresh_services():
    """New services for this process before the test (no cache, client or engine of an earlier
    test), and those the test leaves closed after it. A fixture or test that changes the environment
    calls config.reset(), which replaces them again."""
    process_services.reset()
    yield
    process_services.reset()


@pytest.fixture
def redis(fresh_services):
    """The test Redis, emptied before the test."""
    client = rc.get(REDIS_URL)
    client.flushdb()
    return client


@pytest.fixture
def sqlite_url(tmp_path):
    """A migrated, empty SQLite database for this test."""
    path = tmp_path / "mutt.db"
    shutil.copy(_TEMPLATE_DB, path)
    url = f"sqlite:///{path}"
    use_database(url)
    yield url
    db.engine(url).dispose()


@pytest.fixture
def pg_url():
    """The migrated PostgreSQL test database, emptied before the test."""
    global _pg_migrated
    if _PG_URL is None:
        if services.require_postgres():
            pytest.fail("PostgreSQL is required (MUTT_REQUIRE_POSTGRES=1) but not reachable")
        pytest.skip("no PostgreSQL server reachable (set MUTT_TEST_DATABASE_URL)")
    if not _pg_migrated:
        _start_from_an_empty_schema(_PG_URL)
        migrate.upgrade(_PG_URL)
        _pg_migrated = True
    with db.engine(_PG_URL).begin() as connection:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    use_database(_PG_URL)
    yield _PG_URL


def _start_from_an_empty_schema(url):
    """Each session migrates a new schema: a database left by an older checkout may carry a
    revision whose contents have changed since (an unreleased migration edited in development)."""
    with db.engine(url).begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    db.engine(url).dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def app(redis, sqlite_url):
    from web import create_app

    application = create_app()
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def standin():
    """An HTTP stand-in for Moogsoft on a free port of this process (see mutt_app.tools.moog_standin)."""
    from mutt_app.tools.moog_standin import MoogStandin

    server = MoogStandin().start()
    yield server
    server.stop()


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_TMP, ignore_errors=True)
