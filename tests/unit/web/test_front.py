"""The web server's front layer (web/front.py) under a real granian: the WSGI environ it builds,
and the answers it makes itself. An echo app stands behind it (tests/support/front.py); the
whole of `mutt web` is tested in tests/integration/web/test_slow_clients.py."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest
import requests

from mutt_app.cli.run import web_server_command
from tests.support.processes import free_port, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture(scope="module")
def front():
    port = free_port()
    process = subprocess.Popen(web_server_command("tests.support.front:serve", "127.0.0.1", port, 1) + ["--factory"],
                               cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return requests.get(url + "/_calls", timeout=1).ok
        except requests.RequestException:
            return False

    wait_until(answers, timeout=30, message="front layer serving")
    yield url
    process.terminate()
    process.wait(30)


def calls(url: str) -> int:
    return requests.get(url + "/_calls", timeout=5).json()["calls"]


def raw(url: str, request: bytes, wait: float = 3) -> bytes:
    """Send ``request`` as is; everything the server sends back until it closes (or ``wait`` passes)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as connection:
        connection.sendall(request)
        received = b""
        try:
            while chunk := connection.recv(4096):
                received += chunk
        except TimeoutError:
            pass
    return received


def test_the_app_gets_the_environ_a_wsgi_server_would_give_it(front):
    response = requests.post(front + "/a%20b/%C3%A9?x=%20y&z=1", data="k=v",
                             headers={"X-Multi": "1", "Cookie": "a=1", "Content-Type": "application/x-www-form-urlencoded"})
    environ = response.json()
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/a b/é"  # PEP 3333: bytes as latin-1
    assert (environ["QUERY_STRING"], environ["REQUEST_METHOD"], environ["body"]) == ("x=%20y&z=1", "POST", "k=v")
    assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"]) == ("application/x-www-form-urlencoded", "3")
    assert (environ["REMOTE_ADDR"], environ["SERVER_NAME"], environ["SERVER_PROTOCOL"]) == ("127.0.0.1", "127.0.0.1", "HTTP/1.1")
    assert environ["HTTP_HOST"] == front.removeprefix("http://") and environ["wsgi.url_scheme"] == "http"
    repeated = raw(front, b"GET /r HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2\r\nX-Multi: 1\r\nX-Multi: 2\r\n"
                          b"Connection: close\r\n\r\n")
    assert b'"HTTP_COOKIE": "a=1; b=2"' in repeated and b'"HTTP_X_MULTI": "1,2"' in repeated


def test_chunked_bodies_are_read_to_the_end_and_cut_off_at_the_limit(front):
    def chunks(size):
        for _ in range(size // 100):
            yield b"x" * 100

    assert requests.post(front + "/c", data=chunks(500), timeout=5).json()["body"] == "x" * 500
    before = calls(front)
    too_large = requests.post(front + "/c", data=chunks(2000), timeout=5)
    assert too_large.status_code == 413 and too_large.json()["message"] == "body: more than 1000 bytes"
    assert calls(front) == before


def test_a_body_announced_too_large_is_refused_before_it_is_read(front):
    started = time.monotonic()
    answer = raw(front, b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 413 ") and b"body: 10000000000 bytes; at most 1000" in answer
    assert b"connection: close" in answer.lower() and time.monotonic() - started < 1


def test_a_stalled_body_gets_408_and_never_reaches_the_app(front):
    before = calls(front)
    started = time.monotonic()
    answer = raw(front, b"POST /slow HTTP/1.1\r\nHost: x\r\nX-Correlation-ID: slow-1\r\nContent-Length: 100\r\n\r\nab")
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    assert b'"message": "Request Timeout - the body did not arrive within 1 s", "correlation_id": "slow-1"' in answer
    assert 1 <= time.monotonic() - started < 2 and calls(front) == before


def test_a_client_that_leaves_mid_body_is_not_served(front):
    before = calls(front)
    host, port = front.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(b"POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
    time.sleep(0.3)
    assert calls(front) == before
    assert requests.get(front + "/after", timeout=5).status_code == 200  # and its place is free again


def test_an_app_that_fails_outside_its_error_handlers_is_a_500_without_details(front):
    response = requests.get(front + "/_fail", timeout=5)
    assert response.status_code == 500 and response.json() == {"status": "error", "message": "internal error"}
