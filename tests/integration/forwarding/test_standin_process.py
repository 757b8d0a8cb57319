"""`mutt moog-standin` as its own process (granian): what benchmarks and trials run against."""

import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.processes import start_standin, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def standin_url(tmp_path):
    process, url = start_standin(dict(os.environ), tmp_path)
    yield url
    process.stop()


def received(url: str) -> list[dict]:
    return requests.get(url.replace("/events", "/_received"), timeout=10).json()["received"]


def test_every_concurrent_post_is_recorded_once_and_answers_follow_control(standin_url):
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: requests.post(standin_url, json={"external_id": n}, timeout=10), range(200)))
    assert {answer.status_code for answer in answers} == {200}
    assert sorted(item["body"]["external_id"] for item in received(standin_url)) == list(range(200))

    control = standin_url.replace("/events", "/_control")
    requests.post(control, json={"status": 429, "retry_after": 3, "remaining": 1}, timeout=10)
    throttled = requests.post(standin_url, json={"external_id": "t"}, timeout=10)
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "3")
    assert requests.post(standin_url, json={"external_id": "u"}, timeout=10).status_code == 200
    assert [item["status"] for item in received(standin_url)[-2:]] == [429, 200]


def test_a_request_cut_off_mid_body_is_not_recorded(standin_url):
    host, port = standin_url.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sender:  # a worker killed mid-send
        sender.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 100\r\n\r\n" + json.dumps({"external_id": "cut"}).encode()[:10])
    assert requests.post(standin_url, json={"external_id": "whole"}, timeout=10).status_code == 200
    wait_until(lambda: len(received(standin_url)) >= 1, timeout=5)
    assert [item["body"]["external_id"] for item in received(standin_url)] == ["whole"]
