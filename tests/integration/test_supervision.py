"""`mutt up` supervises what it starts: a real `mutt up` (embedded Redis, SQLite, the Moogsoft
stand-in), whose children are SIGKILLed from outside as the kernel's OOM killer would.

Nothing outside `mutt up` helps: no worker, beat or janitor is started by the test.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from mutt_app.operations import supervisor
from mutt_app.storage import db, redis_client, redis_keys
from mutt_app.storage.models import Alert
from tests.support.processes import Process, free_port, mutt, process_group, wait_log, wait_until

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLES = ("test_data_syslog_events.json", "demo_syslog_events.json", "demo_snmp_traps.json")


class Embedded:
    """One `mutt up` in a temporary MUTT_HOME, and what a test reads of it."""

    def __init__(self, tmp_path: Path, **extra: str) -> None:
        self.home = tmp_path / "home"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR", "MOOG_WEBHOOK_URL")}
        self.env.update(MUTT_HOME=str(self.home), MUTT_ENV="development", LOG_FORMAT="text",
                        MUTT_ADMIN_PASSWORD="supervision-test-" + os.urandom(6).hex(), **extra)
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = Process("up", mutt("up", "--port", self.url.rsplit(":", 1)[1], "--syslog-port", "0", "--trap-port", "0"),
                               self.env, tmp_path)

    def wait_up(self) -> Embedded:
        wait_log(self.process, "MUTT is up", timeout=120)
        self.key = (self.home / "ingest_api_key").read_text().strip()
        return self

    def record(self) -> dict:
        return supervisor.read_record(self.home)

    def pid(self, child: str) -> int:
        return self.record()["children"][child]["pid"]

    def redis(self):
        return redis_client.get(f"unix://{self.home / 'redis.sock'}?db=0")

    def database(self) -> str:
        return f"sqlite:///{self.home / 'mutt.db'}"

    def ingest(self, http: requests.Session, event: dict) -> requests.Response:
        return http.post(self.url + "/api/v2/ingest", json=event, headers={"X-API-KEY": self.key}, timeout=10)

    def status(self) -> str:
        return subprocess.run(mutt("status", "--timeout", "3"), env=self.env, capture_output=True, text=True,
                              timeout=60).stdout

    def stop(self) -> int:
        code = self.process.stop(timeout=90)
        leftovers = subprocess.run(["pgrep", "-f", str(self.home)], capture_output=True, text=True).stdout.split()
        assert leftovers == [], "mutt up left processes running"
        return code


@pytest.fixture
def started():
    runs: list[Embedded] = []
    yield runs
    for run in runs:
        if run.process.alive():
            run.stop()


def events(count: int) -> list[dict]:
    samples = [event for name in SAMPLES for event in json.loads((DATA / name).read_text(encoding="utf-8-sig"))]
    return list(itertools.islice(itertools.cycle(samples), count))


def test_every_celery_worker_process_sigkilled_mid_stream_of_1000_events_every_alert_still_reaches_moog(
        started, standin, tmp_path):
    standin.behave(200, delay=0.05)  # requests take a moment, so some are in flight at the kill
    run = Embedded(tmp_path, MOOG_WEBHOOK_URL=standin.url, JANITOR_INTERVAL="2").wait_up()
    started.append(run)
    stream = events(1000)
    answers: Counter = Counter()

    def post_stream():
        with requests.Session() as http:
            for event in stream:
                answers[run.ingest(http, event).status_code] += 1
                time.sleep(0.01)  # a stream over several seconds, not one burst

    sender = threading.Thread(target=post_stream)
    sender.start()
    wait_until(lambda: len(standin.received) >= 10, timeout=90, message="alerts reach the stand-in")
    victim = run.pid("worker")
    pool = process_group(victim)
    assert victim in pool and len(pool) >= 3  # the worker and its pool processes (WORKER_CONCURRENCY 2)
    os.killpg(victim, signal.SIGKILL)
    wait_until(lambda: not process_group(victim), timeout=10, message="every worker process gone")
    with db.session_scope(run.database()) as session:  # claimed by the killed worker: the only ones it may resend
        in_flight = set(session.scalars(select(Alert.id).where(Alert.state == "sending")))
    assert sender.is_alive(), "the stream ended before the kill"
    sender.join(120)

    assert answers == {200: 1000}  # ingest kept accepting
    wait_until(lambda: run.record()["children"]["worker"]["restarts"] == 1 and run.pid("worker") != victim,
               timeout=30, message="the worker started again")

    def settled():
        stats = run.redis().hgetall(redis_keys.STATS)
        done = sum(int(stats.get(name, 0)) for name in ("audited", "unhandled", "dead_lettered"))
        return stats if done >= 1000 else None

    stats = wait_until(settled, timeout=180, interval=1, message="every event processed")
    assert int(stats["accepted"]) == 1000

    def delivered():
        with db.session_scope(run.database()) as session:
            states = dict(session.execute(select(Alert.state, func.count()).group_by(Alert.state)).all())
        return states if set(states) == {"delivered"} else None

    states = wait_until(delivered, timeout=180, interval=1, message="every alert delivered")
    with db.session_scope(run.database()) as session:
        alert_ids = set(session.scalars(select(Alert.id)))
    sent = Counter(body["external_id"] for body in standin.delivered())
    assert set(sent) == alert_ids  # every forwardable alert reached Moogsoft, nothing else did
    resent = {alert_id for alert_id, times in sent.items() if times > 1}
    assert resent <= in_flight  # a resend only for a request in flight at the kill
    print(f"\n1000 events -> {stats}; {states['delivered']} alerts delivered; worker killed with "
          f"{len(pool)} processes and {len(in_flight)} alerts in flight; {len(resent)} resent")

    report = run.status()
    assert "worker 1 (last exit -9)" in report and "web 0" in report and "redis 0" in report
    assert "worker exited with -9; starting it again" in run.process.log()
    assert run.stop() == 0


def test_a_sigkilled_embedded_redis_is_started_again_and_ingest_answers_200_again(started, tmp_path):
    run = Embedded(tmp_path).wait_up()
    started.append(run)
    http = requests.Session()
    assert run.ingest(http, events(1)[0]).status_code == 200
    os.kill(run.pid("redis"), signal.SIGKILL)
    answers: Counter = Counter()

    def accepted_again():
        answer = run.ingest(http, events(1)[0])
        answers[answer.status_code] += 1
        if answer.status_code == 503:
            assert int(answer.headers["Retry-After"]) >= 1  # a refusal the sender retries
        return answer.status_code == 200 and answers[503] + run.record()["children"]["redis"]["restarts"] > 0

    wait_until(accepted_again, timeout=60, interval=0.2, message="ingest answers 200 again")
    assert set(answers) <= {200, 503}, answers
    assert run.record()["children"]["redis"]["restarts"] == 1
    assert run.redis().ping()
    assert "redis 1 (last exit -9)" in run.status()
    assert "redis exited with -9; starting it again" in run.process.log()
    assert run.stop() == 0


def test_the_web_server_and_beat_sigkilled_alone_are_started_again_and_ingest_answers(started, tmp_path):
    run = Embedded(tmp_path).wait_up()
    started.append(run)
    web, beat = run.pid("web"), run.pid("beat")
    granian_workers = [pid for pid in process_group(web) if pid != web]
    assert granian_workers
    os.kill(web, signal.SIGKILL)  # granian's main process only: its worker still holds the port
    os.kill(beat, signal.SIGKILL)
    http = requests.Session()

    def answers_again():
        try:
            return run.pid("web") != web and run.ingest(http, events(1)[0]).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(answers_again, timeout=60, interval=0.5, message="ingest answers again")
    assert not any(os.path.exists(f"/proc/{pid}") for pid in granian_workers)  # killed with what they held
    children = run.record()["children"]
    assert (children["web"]["restarts"], children["beat"]["restarts"], children["worker"]["restarts"]) == (1, 1, 0)
    assert run.stop() == 0


def test_a_child_that_always_dies_ends_mutt_up_with_a_clear_message_and_exit_1(tmp_path):
    run = Embedded(tmp_path, WORKER_CONCURRENCY="not-a-number")  # `mutt worker` exits 1 at once, every time
    code = run.process.popen.wait(180)
    log = run.process.log()
    assert code == 1, log[-3000:]
    assert (f"Error: worker keeps dying: it exited with 1 after 5 restarts within 120 s; "
            f"see {run.home / 'logs' / 'worker.log'}. Stopping MUTT.") in log
    assert log.rstrip().endswith("stopped")
    assert run.record()["children"]["worker"]["restarts"] == 5
    assert run.stop() == 1
