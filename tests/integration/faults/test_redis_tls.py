"""A Sentinel-watched Redis reached over TLS alone (REDIS_TLS): the primary, its replica and three
Sentinels listen on TLS ports only and ask for a client certificate, so every call below that
succeeds went over verified TLS, to the Sentinels and to the primary they name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.sentinel import MasterNotFoundError

from mutt_app import config
from mutt_app.storage import redis_client
from tests.support.processes import mutt, mutt_env, start_worker
from tests.support.sentinel import MASTER, SentinelSet
from tests.support.tls import Certificates, make_certificates

pytestmark = pytest.mark.integration

FAILOVER_BOUND = 30  # seconds, as in test_redis_failover.py
REFUSAL_BOUND = 5  # seconds: a wrong CA is an error at the handshake, not a wait


@pytest.fixture
def certificates(tmp_path) -> Certificates:
    return make_certificates(tmp_path / "certificates")


@pytest.fixture
def tls_sentinels(certificates) -> Iterator[SentinelSet]:
    started = SentinelSet(Path(tempfile.mkdtemp(prefix="mutt-sentinel-tls-")), tls=certificates)
    try:
        yield started
    finally:
        started.stop()


def tls_settings(sentinels: SentinelSet, certificates: Certificates, ca: Path | None = None) -> dict[str, str]:
    return {
        "REDIS_URL": sentinels.url, "REDIS_SENTINEL_MASTER": MASTER, "REDIS_TLS": "true",
        "REDIS_TLS_CA_CERT": str(ca or certificates.ca),
        "REDIS_TLS_CERT": str(certificates.client_cert), "REDIS_TLS_KEY": str(certificates.client_key),
    }


@pytest.fixture
def on_tls_sentinels(tls_sentinels, certificates, monkeypatch) -> Iterator[SentinelSet]:
    """This process's settings pointed at the TLS Sentinel set."""
    for name, value in tls_settings(tls_sentinels, certificates).items():
        monkeypatch.setenv(name, value)
    config.reset()
    yield tls_sentinels
    config.reset()


def test_mutt_s_client_writes_and_reads_over_tls_and_follows_a_failover(on_tls_sentinels):
    client = redis_client.get()
    assert client.set("mutt:test:tls", "over TLS") and client.get("mutt:test:tls") == "over TLS"
    assert client.wait(1, 1000) == 1  # the replica has it, replicating over TLS

    killed = on_tls_sentinels.kill_primary()
    deadline = time.monotonic() + FAILOVER_BOUND
    while True:
        try:
            value = client.get("mutt:test:tls")
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "the Sentinels named no new primary over TLS"
            time.sleep(0.2)
    assert value == "over TLS"
    on_tls_sentinels.wait_for_new_primary(killed)
    assert client.connection_pool.get_master_address()[1] != killed


BROKER_ROUND_TRIP = """
import redis
from redis.sentinel import MasterNotFoundError
from mutt_app.celery_app import app, check_settings
check_settings()
with app.connection_for_write() as broker:
    queue = broker.SimpleQueue("mutt-test-tls")
    queue.put({"over": "TLS"})
    message = queue.get(timeout=10)
    message.ack()
    queue.close()
    pool = broker.default_channel.client.connection_pool
    print(message.payload["over"], broker.transport_cls, issubclass(pool.connection_class, redis.SSLConnection))
"""


def test_the_celery_broker_sends_and_receives_over_tls_with_mutt_s_celery_settings(tls_sentinels, certificates, tmp_path):
    settings = tls_settings(tls_sentinels, certificates)
    result = subprocess.run([sys.executable, "-c", BROKER_ROUND_TRIP], capture_output=True, text=True, timeout=60,
                            env={**os.environ, **settings, "MUTT_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["TLS", "sentinel", "True"], result.stdout


FLOWER_QUEUE_LENGTHS = """
import asyncio
from flower.utils.broker import Broker
from mutt_app.celery_app import app
with app.connection() as connection:  # as Flower's views do: the first Sentinel's URI and the app's broker options
    uri = connection.as_uri(include_password=True)
queues = asyncio.run(Broker(uri, broker_options=app.conf.broker_transport_options,
                            broker_use_ssl=app.conf.broker_use_ssl).queues(["alerts"]))
print(*[(queue["name"], queue["messages"]) for queue in queues])
"""


def test_a_worker_the_cli_and_flower_reach_redis_over_tls(tls_sentinels, certificates, tmp_path):
    env = mutt_env(tls_sentinels.url, f"sqlite:///{tmp_path / 'mutt.db'}", tmp_path / "home",
                   **tls_settings(tls_sentinels, certificates))
    subprocess.run(mutt("db", "upgrade"), env=env, check=True, capture_output=True, timeout=120)
    worker = start_worker(env, tmp_path, concurrency=1)  # ready: its consumer reached the primary
    try:
        status = subprocess.run(mutt("status", "--json"), capture_output=True, text=True, timeout=60, env=env)
        assert status.returncode == 0, status.stdout + status.stderr  # no problem: Redis read, the worker answered
        report = json.loads(status.stdout)
        assert len(report["workers"]) == 1 and report["breaker"]["state"] == "closed", report

        flower = subprocess.run([sys.executable, "-c", FLOWER_QUEUE_LENGTHS], capture_output=True, text=True, timeout=60, env=env)
        assert flower.returncode == 0, flower.stderr
        assert flower.stdout.strip() == "('alerts', 0)", flower.stdout
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]


def test_a_client_that_trusts_another_ca_is_refused_at_once(tls_sentinels, certificates, tmp_path, monkeypatch):
    another_ca = make_certificates(tmp_path / "another").ca
    for name, value in tls_settings(tls_sentinels, certificates, ca=another_ca).items():
        monkeypatch.setenv(name, value)
    config.reset()
    try:
        started = time.monotonic()
        with pytest.raises(MasterNotFoundError):  # redis-py names each Sentinel's failure only "network:ConnectionError"
            redis_client.connect(config.get().redis_url, 2).ping()
        assert time.monotonic() - started < REFUSAL_BOUND

        tls = config.get().redis_sentinel.tls.client_options()
        for port in (tls_sentinels.sentinel_ports[0], tls_sentinels.primary_port):  # why: each refuses the handshake
            with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
                redis.Redis(port=port, socket_timeout=2, **tls).ping()
    finally:
        config.reset()
