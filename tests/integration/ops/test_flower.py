"""Flower started by `mutt flower` against MUTT's broker: authentication required, MUTT's queues
and the running worker with its queues in its views."""

import pytest
import requests

from tests.support.processes import Process, free_port, mutt, mutt_env, start_worker, wait_until

pytestmark = pytest.mark.integration

AUTH = ("operator", "flower-test-password")


def test_flower_requires_auth_and_shows_mutt_queues_and_workers(redis, sqlite_url, tmp_path):
    from tests.conftest import REDIS_URL

    env = mutt_env(REDIS_URL, sqlite_url, tmp_path / "home", FLOWER_BASIC_AUTH=":".join(AUTH))
    worker = start_worker(env, tmp_path, queues="alerts,moog", concurrency=1, name="flowerseen")
    port = free_port()
    flower = Process("flower", mutt("flower", "--port", str(port)), env, tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url + "/healthcheck"), timeout=60, message="Flower up")
        assert requests.get(url + "/api/workers", timeout=5).status_code == 401
        assert requests.get(url + "/", timeout=5).status_code == 401
        lengths = requests.get(url + "/api/queues/length", auth=AUTH, timeout=10).json()["active_queues"]
        assert {q["name"] for q in lengths} >= {"alerts", "moog"}
        workers = wait_until(lambda: requests.get(url + "/api/workers?refresh=1", auth=AUTH, timeout=15).json(),
                             timeout=30, message="Flower sees the worker")
        (name, info), = ((n, i) for n, i in workers.items() if n.startswith("flowerseen"))
        assert sorted(q["name"] for q in info["active_queues"]) == ["alerts", "moog"]
        assert AUTH[1] not in flower.log()
    finally:
        flower.stop()
        worker.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
