"""This process's services: built once, built again in a forked child, nothing done at import."""

import json
import os
import subprocess
import sys
import threading

import redis as redis_py
from sqlalchemy import text

from mutt_app import config, dynconfig, services
from mutt_app.storage import db, redis_client


def test_one_services_object_per_process_holds_one_of_each(redis, sqlite_url):
    process = services.current()
    assert services.current() is process and process.pid == os.getpid()
    assert redis_client.get() is redis_client.get() is redis_client.get(os.environ["REDIS_URL"])
    assert redis_client.probe() is not redis_client.get()  # another timeout, another client
    assert db.engine() is db.engine() is db.engine(sqlite_url)
    assert config.get() is config.get() is config.of(process)
    assert dynconfig.runtime() is dynconfig.runtime()
    assert process.own("thing", object) is process.own("thing", object)
    process.forget("thing")
    process.own("thing", list).append("made by the test above")


def test_each_test_starts_with_new_services(redis):
    assert services.current().own("thing", list) == []


def test_the_runtime_settings_are_one_view_per_redis_database_whichever_client_asks(redis):
    another_client = redis_py.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    assert dynconfig.runtime(another_client) is dynconfig.runtime(redis) is dynconfig.runtime()
    dynconfig.runtime(another_client).store("moog_rate_limit", 7)
    assert dynconfig.get("moog_rate_limit") == 7  # at once, not within REFRESH_SECONDS
    elsewhere = redis_py.Redis(host="redis.elsewhere.invalid", db=2)  # never connected: no command is sent
    assert dynconfig.runtime(elsewhere) is not dynconfig.runtime()


def test_a_changed_environment_gets_new_services_and_the_old_clients_keep_working(redis, sqlite_url, tmp_path, monkeypatch):
    before = services.current()
    old_engine = db.engine()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    config.reset()
    assert services.current() is not before
    assert db.engine() is not old_engine and str(db.engine().url).endswith("other.db")
    with old_engine.connect() as connection:  # disposed, not broken: a holder can go on
        assert connection.scalar(text("SELECT 1")) == 1
    assert redis.ping()


def test_settings_given_to_the_app_factory_are_the_process_settings(redis, sqlite_url):
    settings = config.load()
    assert config.use(settings) is settings is config.get()
    process = services.current()
    config.use(settings)
    assert services.current() is process  # the same settings again: the same services


def test_a_forked_child_builds_its_own_services_and_leaves_the_parents_connections_alone(redis, sqlite_url):
    parent = services.current()
    parent_client, parent_engine = redis_client.get(), db.engine()
    with parent_engine.connect() as connection:
        connection.scalar(text("SELECT 1"))  # a pooled connection the child must not close
    parent_client.set("mutt:test:parent", "1")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, then leave without running pytest's teardown
        try:
            child = services.current()
            client = redis_client.get()
            with db.session_scope() as session:
                database_answers = session.scalar(text("SELECT 1")) == 1
            report = {
                "own_services": child is not parent and child.pid == os.getpid(),
                "same_after": services.current() is child,
                "settings_kept": config.get() is config.of(parent),
                "own_client": client is not parent_client and client.get("mutt:test:parent") == "1",
                "own_engine": db.engine() is not parent_engine and database_answers,
            }
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            report = {"error": repr(error)}
        os.write(write, json.dumps(report).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        report = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert report == {"own_services": True, "same_after": True, "settings_kept": True, "own_client": True,
                      "own_engine": True}
    assert services.current() is parent and redis_client.get() is parent_client
    assert parent_client.get("mutt:test:parent") == "1"
    with parent_engine.connect() as connection:
        assert connection.scalar(text("SELECT 1")) == 1


def test_a_thread_kept_running_starts_again_in_a_forked_child_and_stops_with_its_services(redis):
    started = []

    def target(stop: threading.Event) -> None:
        started.append(os.getpid())
        stop.wait()

    services.current().keep_running("mutt-test-thread", target)
    services.current().keep_running("mutt-test-thread", target)  # once per process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        services.current()  # the child's services start the parent's threads again
        alive = False
        for _ in range(200):
            alive = any(t.name == "mutt-test-thread" and t.is_alive() for t in threading.enumerate())
            if alive:
                break
            threading.Event().wait(0.01)
        os.write(write, b"1" if alive else b"0")
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        assert pipe.read() == b"1"
    os.waitpid(pid, 0)
    thread = next(t for t in threading.enumerate() if t.name == "mutt-test-thread")
    assert started == [os.getpid()]
    services.reset()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_importing_mutt_reads_no_setting_and_writes_no_file(tmp_path):
    """Importing the Celery app, the tasks, the web package and the CLI builds no services: no
    secret key is made (nor asked for, in production), and a wrong setting waits for start-up."""
    code = ("import celeryconfig, mutt_app.celery_app, mutt_app.cli, tasks.alerter, tasks.forwarder, web, web.health; "
            "from mutt_app import services; print(services._current is None, celeryconfig.claim_lease_seconds)")
    env = dict(os.environ, MUTT_HOME=str(tmp_path / "home"), MUTT_ENV="production", SECRET_KEY="",
               REDIS_URL="redis://127.0.0.1:1/0", CLAIM_LEASE_SECONDS="half a minute")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "30"]  # the default, until celeryconfig.check() refuses the value
    assert not (tmp_path / "home").exists()
