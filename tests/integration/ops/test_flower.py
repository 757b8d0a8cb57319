"""Flower started by `mutt flower` against MUTT's broker: authentication required on every view
(also /metrics and /healthcheck, which Flower itself leaves open), credentials with an empty user
or password refused, MUTT's queues and the running worker with its queues in its views."""

import subprocess

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
        for path in ("/api/workers", "/", "/metrics", "/healthcheck"):
            refused = requests.get(url + path, timeout=5)
            assert refused.status_code == 401, path
            assert requests.get(url + path, auth=("operator", "wrong"), timeout=5).status_code == 401, path
        assert requests.get(url + "/healthcheck", auth=AUTH, timeout=5).text == "OK"
        assert "flower_events_total" in requests.get(url + "/metrics", auth=AUTH, timeout=10).text
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


@pytest.mark.parametrize("credentials", ["", ":", "operator:", ":secret-password", "operator:pw,admin:", "no-colon"])
def test_flower_refuses_credentials_with_an_empty_user_or_password(redis, sqlite_url, tmp_path, credentials):
    from tests.conftest import REDIS_URL

    env = mutt_env(REDIS_URL, sqlite_url, tmp_path / "home", FLOWER_BASIC_AUTH=credentials)
    port = free_port()
    for command in (mutt("flower", "--port", str(port)),
                    mutt("flower", "--port", str(port))[:2] + ["mutt_app.cli.flower", f"--port={port}"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0, command
        assert "FLOWER_BASIC_AUTH" in result.stderr
        assert not _answers(f"http://127.0.0.1:{port}/healthcheck")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, auth=AUTH, timeout=1).status_code == 200
    except requests.RequestException:
        return False
