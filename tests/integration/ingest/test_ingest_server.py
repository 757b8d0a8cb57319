"""Ingest under the real server: granian with two worker processes, concurrent senders, counted."""

import json
import re
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from mutt_app import dynconfig
from mutt_app.access import api_keys
from mutt_app.alerting.batches import EventBatches
from mutt_app.ingest.accept import rejected_waiting, store_rejected
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import DeadLetter
from tests.support.processes import mutt_env, start_web, wait_until

pytestmark = pytest.mark.integration

EVENT = {"hostname": "core-router-01", "timestamp": "2025-01-15T14:30:22Z", "message": "link down",
         "syslog_severity": "notice"}


@pytest.fixture
def web(redis, sqlite_url, tmp_path):
    from tests.conftest import REDIS_URL

    with session_scope() as session:
        _, key = api_keys.create(session, "sender", ["ingest"], actor="test")
    process, url = start_web(mutt_env(REDIS_URL, sqlite_url, tmp_path / "home"), tmp_path, workers=2)
    yield url, key
    process.stop()


def test_concurrent_senders_every_item_is_queued_or_rejected_and_metrics_add_up_across_workers(web, redis):
    url, key = web
    session = requests.Session()
    headers = {"X-API-KEY": key}

    def single(i):
        return session.post(url + "/api/v2/ingest", json={**EVENT, "n": i}, headers=headers, timeout=30)

    def batch(i):
        items = [{**EVENT, "n": i}] * 40 + [{"message": "no host"}] * 2
        return session.post(url + "/ingest", data="\n".join(json.dumps(item) for item in items),
                            headers={**headers, "Content-Type": "text/plain"}, timeout=30)

    with ThreadPoolExecutor(16) as pool:
        singles = list(pool.map(single, range(600)))
        batches = list(pool.map(batch, range(30)))
    assert {r.status_code for r in singles + batches} == {200}
    queued = len(singles) + sum(r.json()["accepted"] for r in batches)
    rejected = sum(len(r.json()["rejected"]) for r in batches)
    assert (queued, rejected) == (600 + 30 * 40, 30 * 2)
    assert len({r.json()["correlation_id"] for r in singles}) == 600

    state, batches = EventBuffer(redis), EventBatches(redis)
    assert state.stats()["accepted"] == queued == state.backlog()
    # every web process's flusher cuts what waits: soon everything is in dispatched batches
    wait_until(lambda: state.buffered() == 0 and redis.llen("alerts") == batches.pending(), timeout=10,
               message="buffer cut into batches, one alerter task each")
    sizes = [redis.llen(redis_keys.batch(batch_id)) for batch_id in redis.zrange(redis_keys.BATCHES_PENDING, 0, -1)]
    assert sum(sizes) == queued and max(sizes) <= dynconfig.REGISTRY["ingest_batch_size"].default

    text = requests.get(url + "/metrics", timeout=10).text
    total = sum(float(v) for v in re.findall(r'^mutt_ingest_requests_total\{reason="",status="success"\} (\S+)$', text, re.M))
    assert total == 630  # from both server workers, not just the one that answered the scrape
    assert re.search(r'^mutt_ingest_events_total\{outcome="rejected"\} 60\.0$', text, re.M)
    assert rejected_waiting(redis) == 60  # in Redis: ingest touches no database
    assert store_rejected(redis) == 60     # as mutt.store_rejected does
    with session_scope() as db:
        assert db.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.reason == "invalid_event")) == 60
    assert requests.get(url + "/health", timeout=10).status_code == 200


def test_the_server_answers_size_limits_before_reading_the_body_and_takes_chunked_bodies(web):
    url, key = web
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sender:
        # announces 10 GB and sends one byte: the answer must not wait for the rest
        sender.sendall(f"POST /api/v2/ingest HTTP/1.1\r\nHost: {host}\r\nX-API-KEY: {key}\r\n"
                       "Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{".encode())
        answer = b""
        while b"at most" not in answer and (chunk := sender.recv(4096)):  # the answer may come in pieces
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"10000000000 bytes; at most" in answer

    def chunks(items):
        for item in items:
            yield json.dumps(item).encode() + b"\n"

    chunked = requests.post(url + "/api/v2/ingest", data=chunks([EVENT, EVENT, EVENT]),
                            headers={"X-API-KEY": key, "Content-Type": "application/x-ndjson"}, timeout=10)
    assert chunked.status_code == 200, chunked.text
    assert chunked.json()["accepted"] == 3
