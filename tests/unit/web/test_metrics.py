"""GET /metrics: Prometheus text with the ingest counters and the gauges sampled at scrape time."""

import re

from mutt_app.access import api_keys
from mutt_app.ingest.accept import store_rejected
from mutt_app.storage.db import session_scope
from tests.support.web import forget_keys

EVENT = {"hostname": "h", "timestamp": "2025-01-15T14:30:22Z", "message": "m"}


def sample(text: str, name: str, labels: str = "") -> float | None:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def test_metrics_count_ingest_outcomes_and_sample_the_backlog_at_scrape_time(client, redis):
    with session_scope() as session:
        _, key = api_keys.create(session, "sender", ["ingest"], actor="test")
    forget_keys()
    before = client.get("/metrics").get_data(as_text=True)
    client.post("/api/v2/ingest", json=[EVENT, EVENT, {"message": "no host"}], headers={"X-API-KEY": key})
    client.post("/api/v2/ingest", json=EVENT, headers={"X-API-KEY": "mutt_00000000_wrong"})
    store_rejected(redis)  # as mutt.store_rejected does: the rejected item becomes a dead letter
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    after = response.get_data(as_text=True)

    def grew(name, labels=""):
        return sample(after, name, labels) - (sample(before, name, labels) or 0)

    assert grew("mutt_ingest_requests_total", '{reason="",status="success"}') == 1
    assert grew("mutt_ingest_requests_total", '{reason="auth",status="fail"}') == 1
    assert grew("mutt_ingest_events_total", '{outcome="accepted"}') == 2
    assert grew("mutt_ingest_events_total", '{outcome="rejected"}') == 1
    assert grew("mutt_ingest_latency_seconds_count") == 2
    assert sample(after, "mutt_ingest_queue_depth") == 2
    assert sample(after, "mutt_dead_letters", '{state="waiting"}') == 1
    assert sample(after, "mutt_circuit_breaker_state", '{name="moogsoft"}') == 0


def test_metrics_show_the_listener_counters(client, redis):
    from mutt_app.storage import redis_keys

    redis.hset(redis_keys.LISTENER_STATS, mapping={"syslog-udp:received": 10, "syslog-udp:dropped": 3})
    text = client.get("/metrics").get_data(as_text=True)
    assert sample(text, "mutt_listener_messages", '{listener="syslog-udp",outcome="dropped"}') == 3
    assert sample(text, "mutt_listener_messages", '{listener="syslog-udp",outcome="received"}') == 10
