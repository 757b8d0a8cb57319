"""Slow and stalled request bodies against the real `mutt web` (granian, web/front.py).

Before the front layer, about twenty connections that announced a body and never sent it held
every app thread: /health, ingest and the UI stopped answering for minutes. Now a body that is
not complete within WEB_BODY_TIMEOUT gets 408 and its connection is closed, it holds no app
thread meanwhile, and one client address can have at most WEB_MAX_REQUESTS_PER_CLIENT requests
in progress per server process. The attackers connect from 127.0.0.2, the operator from 127.0.0.1.
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import requests

from mutt_app.access import api_keys
from mutt_app.storage.db import session_scope
from tests.support.processes import mutt_env, start_web

pytestmark = pytest.mark.integration

BODY_TIMEOUT = 3
ATTACKER = "127.0.0.2"
EVENT = {"hostname": "core-router-01", "timestamp": "2025-01-15T14:30:22Z", "message": "link down",
         "syslog_severity": "notice"}


def start(redis, sqlite_url, tmp_path, workers: int, **settings: str):
    from tests.conftest import REDIS_URL

    with session_scope() as session:
        _, key = api_keys.create(session, "sender", ["ingest"], actor="test")
    env = mutt_env(REDIS_URL, sqlite_url, tmp_path / "home", WEB_BODY_TIMEOUT=str(BODY_TIMEOUT), **settings)
    process, url = start_web(env, tmp_path, workers=workers)
    return process, url, key


@pytest.fixture
def web(redis, sqlite_url, tmp_path):
    process, url, key = start(redis, sqlite_url, tmp_path, workers=2)
    yield url, key
    process.stop()


@pytest.fixture
def capped_web(redis, sqlite_url, tmp_path):
    process, url, key = start(redis, sqlite_url, tmp_path, workers=1, WEB_MAX_REQUESTS_PER_CLIENT="8")
    yield url, key
    process.stop()


def half_sent_login(url: str, sent: int = 10, declared: int = 100) -> socket.socket:
    """POST /login announcing ``declared`` bytes of body and sending ``sent``, from ATTACKER."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.socket()
    connection.bind((ATTACKER, 0))
    connection.connect((host, int(port)))
    connection.sendall(f"POST /login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                       f"Content-Length: {declared}\r\n\r\n".encode() + b"u" * sent)
    return connection


def drip(connection: socket.socket, stop: threading.Event) -> None:
    """Send one more byte of the body every 0.5 s (100 bytes would take 45 s)."""
    while not stop.wait(0.5):
        try:
            connection.sendall(b"u")
        except OSError:
            return


def answer(connection: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """(the status line, whether the server then closed the connection), reading until ``deadline``."""
    received = b""
    while time.monotonic() < deadline:
        connection.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = connection.recv(4096)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            return received.split(b"\r\n", 1)[0], True
        received += chunk
    return received.split(b"\r\n", 1)[0], False


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_stalled_and_dripped_bodies_hold_no_thread_and_get_408_within_the_bound(web):
    url, key = web
    stop = threading.Event()
    opened = time.monotonic()
    stalled = [half_sent_login(url) for _ in range(20)]
    dripped = [half_sent_login(url) for _ in range(4)]
    drippers = [threading.Thread(target=drip, args=(c, stop), daemon=True) for c in dripped]
    for thread in drippers:
        thread.start()
    try:
        time.sleep(0.5)  # all 24 are in the server, waiting for their bodies
        health, health_seconds = timed(lambda: requests.get(url + "/health", timeout=10))
        ingest, ingest_seconds = timed(lambda: requests.post(url + "/api/v2/ingest", json=EVENT,
                                                             headers={"X-API-KEY": key}, timeout=10))
        login_page, page_seconds = timed(lambda: requests.get(url + "/login", timeout=10))
        assert (health.status_code, ingest.status_code, login_page.status_code) == (200, 200, 200), ingest.text
        assert max(health_seconds, ingest_seconds, page_seconds) < 1.0, (health_seconds, ingest_seconds, page_seconds)

        answers = [answer(c, opened + BODY_TIMEOUT + 2) for c in stalled + dripped]
        refused_after = time.monotonic() - opened
    finally:
        stop.set()
        for connection in stalled + dripped:
            connection.close()
    assert answers == [(b"HTTP/1.1 408 Request Timeout", True)] * 24
    assert refused_after < BODY_TIMEOUT + 2

    text = requests.get(url + "/metrics", timeout=10).text
    counted = sum(float(v) for v in re.findall(r'^mutt_web_refused_total\{reason="body_timeout"\} (\S+)$', text, re.M))
    assert counted == 24  # both server processes' counts


def test_one_address_cannot_hold_more_than_its_share_of_requests_and_others_are_served(capped_web):
    url, key = capped_web
    held = [half_sent_login(url) for _ in range(8)]
    try:
        time.sleep(0.5)
        extra = [half_sent_login(url) for _ in range(4)]
        refused = [answer(c, time.monotonic() + 1) for c in extra]
        assert refused == [(b"HTTP/1.1 429 Too Many Requests", True)] * 4
        raw = half_sent_login(url, sent=0, declared=0)
        raw.settimeout(2)
        assert b"\r\nretry-after: 1\r\n" in raw.recv(4096).lower()

        health, seconds = timed(lambda: requests.get(url + "/health", timeout=10))  # another address
        assert health.status_code == 200 and seconds < 1.0
        ingest = requests.post(url + "/api/v2/ingest", json=EVENT, headers={"X-API-KEY": key}, timeout=10)
        assert ingest.status_code == 200
    finally:
        for connection in held:
            connection.close()
    # the held requests end (client gone: 400, or 408); then the address is served again
    time.sleep(0.5)
    again = socket.socket()
    again.bind((ATTACKER, 0))
    again.connect(tuple(url.removeprefix("http://").split(":")[:1]) + (int(url.rsplit(":", 1)[1]),))
    again.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer(again, time.monotonic() + 3)[0] == b"HTTP/1.1 200 OK"
    again.close()
