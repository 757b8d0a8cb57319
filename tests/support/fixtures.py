"""The fixtures several test modules share: `api` (the REST API's test client) and the API keys it
takes, `worker` (a Celery worker in a thread of the test process) and `stack` (MUTT's processes).

Each is defined once; a module that needs a variant says so with an indirect parametrisation:

    pytestmark = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)
    pytestmark = pytest.mark.parametrize("worker", [[ALERTS_QUEUE]], indirect=True)
    pytestmark = [pytest.mark.integration, stack_of("pipeline", beat=True)]

tests/conftest.py imports them, so every test module sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.processes import Process, mutt_env, start_beat, start_web, start_worker
from tests.support.web import admin_key, fresh_app

DATABASE_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "pg_url"}


@pytest.fixture
def api(request, redis):
    """A test client of a fresh app on an empty PostgreSQL test database ("sqlite" by parametrisation)."""
    request.getfixturevalue(DATABASE_FIXTURES[getattr(request, "param", "postgresql")])
    return fresh_app().test_client()


@pytest.fixture
def admin(api):
    """Headers with an API key of the admin scope (named "admin script": the audit shows "key:admin script")."""
    return {"X-API-KEY": admin_key(("admin",), "admin script")}


@pytest.fixture
def operator(api):
    """Headers with an API key of the operator and read scopes."""
    return {"X-API-KEY": admin_key(("operator", "read"), "operator script")}


@pytest.fixture
def reader(api):
    """Headers with an API key of the read scope."""
    return {"X-API-KEY": admin_key(("read",), "dashboard")}


@pytest.fixture
def worker(request, redis):
    """A Celery worker (solo pool) in a thread of this process, on every queue or on the queues
    given by parametrisation; the task code runs here, so a test can watch and patch it."""
    from celery.contrib.testing.worker import start_worker as start_thread_worker

    import celeryconfig
    from mutt_app.celery_app import app

    queues = list(getattr(request, "param", celeryconfig.QUEUES))
    with start_thread_worker(app, pool="solo", queues=queues, perform_ping_check=False, loglevel="WARNING",
                             shutdown_timeout=30):
        yield app


@dataclass(frozen=True)
class StackSpec:
    """What a `stack` starts: give it to a module with `stack_of`."""

    database: str = "postgresql"  # or "sqlite"
    web_workers: int = 2  # granian worker processes; 0: no web server
    workers: int = 1  # Celery worker processes (prefork, `concurrency` each) on `queues`
    queues: str = "alerts,moog,janitor,remediation"
    concurrency: int = 2
    beat: bool = False
    standin: bool = True  # a Moogsoft stand-in in this process, MOOG_WEBHOOK_URL pointing at it
    env: dict[str, str] = field(default_factory=dict)  # more environment for the processes
    prepare: Callable[[Any], dict] | None = None  # called with the Redis client before the processes start


@dataclass
class Stack:
    env: dict[str, str]
    redis: Any
    url: str | None  # the web server's, if one runs
    standin: Any
    workers: list[Process]
    processes: list[Process]  # web, workers, beat
    prepared: dict  # what StackSpec.prepare returned


def stack_of(name: str, **spec: Any) -> pytest.MarkDecorator:
    """The mark that gives a module's tests a `stack` with these StackSpec fields (``name`` is its test id)."""
    return pytest.mark.parametrize("stack", [StackSpec(**spec)], indirect=True, ids=[name])


@pytest.fixture
def stack(request, redis, tmp_path):
    """MUTT's processes on the test Redis and database: web under granian, Celery workers, beat,
    and a Moogsoft stand-in, as the module's StackSpec says; stopped after the test."""
    from tests.conftest import REDIS_URL

    spec: StackSpec = getattr(request, "param", StackSpec())
    database_url = request.getfixturevalue(DATABASE_FIXTURES[spec.database])
    prepared = spec.prepare(redis) if spec.prepare else {}
    standin = None
    extra = dict(spec.env)
    if spec.standin:
        from mutt_app.tools.moog_standin import MoogStandin

        standin = MoogStandin().start()
        extra.setdefault("MOOG_WEBHOOK_URL", standin.url)
    env = mutt_env(REDIS_URL, database_url, tmp_path / "home", **extra)
    processes: list[Process] = []
    workers: list[Process] = []
    try:
        url = None
        if spec.web_workers:
            web, url = start_web(env, tmp_path, workers=spec.web_workers)
            processes.append(web)
        for n in range(spec.workers):
            name = "worker" if spec.workers == 1 else f"worker-{n}"
            workers.append(start_worker(env, tmp_path, queues=spec.queues, concurrency=spec.concurrency, name=name))
            processes.append(workers[-1])
        if spec.beat:
            processes.append(start_beat(env, tmp_path))
        yield Stack(env, redis, url, standin, workers, processes, prepared)
    finally:
        for process in processes:
            process.stop()
        if standin is not None:
            standin.stop()


@pytest.fixture
def clock():
    """A Redis clock that stands still until the test advances it (tests/support/clock.py)."""
    from tests.support.clock import StoppedClock

    return StoppedClock()
