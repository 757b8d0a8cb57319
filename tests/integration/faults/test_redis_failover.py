"""A Sentinel-watched Redis loses its primary (SIGKILL): MUTT's client, the web and the broker
reach the promoted replica on their own, and what was written before the kill is still there."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from kombu import Connection

import celeryconfig
from mutt_app import config
from mutt_app.core import outages
from mutt_app.storage import redis_client, redis_keys
from tests.support.sentinel import MASTER, sentinel_set  # noqa: F401 - the fixture
from tests.support.web import admin_key, fresh_app

pytestmark = pytest.mark.integration

FAILOVER_BOUND = 30  # seconds: down after 1 s, then the Sentinels' election and the promotion
EVENT = {"hostname": "core-router-01", "timestamp": "2025-01-15T14:30:22Z", "message": "link down", "syslog_severity": "Notice"}


@pytest.fixture
def on_sentinels(sentinel_set, monkeypatch):  # noqa: F811 - the fixture imported above
    """This process's settings pointed at the Sentinel set."""
    monkeypatch.setenv("REDIS_URL", sentinel_set.url)
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", MASTER)
    config.reset()
    yield sentinel_set
    config.reset()


def until_it_answers(call, bound: float = FAILOVER_BOUND):
    """Call until it succeeds: its result, the seconds it took and the dependencies the failures named."""
    started, outages_seen = time.monotonic(), Counter()
    while time.monotonic() - started < bound:
        try:
            return call(), time.monotonic() - started, outages_seen
        except Exception as error:  # noqa: BLE001 - every failure must be an outage, checked below
            outages_seen[outages.unavailable(error) or repr(error)] += 1
            time.sleep(0.2)
    raise AssertionError(f"no answer within {bound} s: {outages_seen}")


def test_mutt_s_client_follows_the_sentinels_to_the_new_primary_and_keeps_what_a_replica_had(on_sentinels):
    client = redis_client.get()
    client.set("mutt:test:kept", "before the kill")
    assert client.wait(1, 1000) == 1  # the replica has it
    killed = on_sentinels.kill_primary()

    value, seconds, failures = until_it_answers(lambda: client.get("mutt:test:kept"))
    assert value == "before the kill" and seconds < FAILOVER_BOUND
    assert set(failures) <= {outages.REDIS}, failures  # 503 and retry, never a bug
    on_sentinels.wait_for_new_primary(killed)  # the client may find it before the last Sentinel names it
    assert client.set("mutt:test:after", "1") and client.get("mutt:test:after") == "1"


def test_ingest_answers_503_with_retry_after_while_the_primary_is_gone_then_200_on_its_own(on_sentinels, sqlite_url):
    web = fresh_app().test_client()
    headers = {"X-API-KEY": admin_key(("ingest",), "failover sender")}
    assert web.post("/api/v2/ingest", json=EVENT, headers=headers).status_code == 200
    on_sentinels.kill_primary()

    statuses: Counter = Counter()
    deadline = time.monotonic() + FAILOVER_BOUND
    while time.monotonic() < deadline:
        answer = web.post("/api/v2/ingest", json=EVENT, headers=headers)
        statuses[answer.status_code] += 1
        if answer.status_code == 503:
            assert int(answer.headers["Retry-After"]) >= 1
        if answer.status_code == 200 and statuses[503]:
            break
        time.sleep(0.2)
    assert set(statuses) == {200, 503} and statuses[200] == 1, statuses  # no 500, and back without a restart


def test_with_a_replica_required_ingest_answers_200_only_once_the_replica_has_the_events(on_sentinels, sqlite_url, monkeypatch):
    monkeypatch.setenv("REDIS_MIN_REPLICAS_ACK", "1")
    web = fresh_app().test_client()
    headers = {"X-API-KEY": admin_key(("ingest",), "replicated sender")}
    replica = on_sentinels.client(on_sentinels.replica_port)
    assert web.post("/api/v2/ingest", json=EVENT, headers=headers).status_code == 200
    assert replica.llen(redis_keys.INGEST_BUFFER) == 1  # there already when the sender heard 200

    on_sentinels.pause(on_sentinels.replica_port)
    try:
        answer = web.post("/api/v2/ingest", json=EVENT, headers=headers)
    finally:
        on_sentinels.resume(on_sentinels.replica_port)
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
    assert "no Redis replica confirmed" in answer.get_json()["message"]
    answer, _, _ = until_it_answers(lambda: _accepted(web.post("/api/v2/ingest", json=EVENT, headers=headers)), bound=10)
    assert replica.llen(redis_keys.INGEST_BUFFER) == 3  # the 503's events stayed queued: the sender's retry may repeat them


def _accepted(answer):
    assert answer.status_code == 200, answer.get_json()
    return answer


def test_the_broker_follows_the_sentinels_and_keeps_a_queued_message(on_sentinels):
    options = {**celeryconfig.broker_transport_options, **config.broker_sentinel_options()}
    assert options["master_name"] == MASTER
    with Connection(config.broker_url(), transport_options=options) as broker:
        queue = broker.SimpleQueue("mutt-test-failover")
        queue.put({"n": 1})
        assert redis_client.get().wait(1, 1000) == 1
        on_sentinels.kill_primary()
        message, seconds, _ = until_it_answers(lambda: queue.get(timeout=1))
        assert message.payload == {"n": 1}
        message.ack()
        queue.close()
