"""The ingest endpoints over real HTTP (a threaded WSGI server in this process), real Redis,
real SQLite: every body shape, every answer, and the count of what went where."""

import gzip
import json
import socket
import time
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from mutt_app import config, dynconfig
from mutt_app.access import api_keys
from mutt_app.alerting.batches import EventBatches
from mutt_app.ingest.accept import rejected_waiting, store_rejected
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.storage import redis_client, redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import DeadLetter
from tests.support.web import forget_keys

DATA = Path(__file__).parents[2] / "data"  # v2.5 sample data
EVENT = {"hostname": "core-router-01", "timestamp": "2025-01-15T14:30:22Z", "message": "link down",
         "syslog_severity": "Notice"}
ANSWERS = {200, 400, 401, 413, 415, 429, 503}


@pytest.fixture
def post(live, key):
    def post(body=None, *, path="/api/v2/ingest", content_type="application/json", headers=None, raw=None, **kw):
        sent = {"X-API-KEY": key, **({"Content-Type": content_type} if content_type else {}), **(headers or {})}
        data = raw if raw is not None else json.dumps(body)
        return requests.post(live + path, data=data, headers=sent, timeout=10, **kw)

    return post


def buffered(redis):
    return [json.loads(item) for item in redis.lrange(redis_keys.INGEST_BUFFER, 0, -1)]


def dead_letters():
    """The dead letters, once the rejected items waiting in Redis were stored (mutt.store_rejected)."""
    store_rejected(redis_client.get())
    with session_scope() as session:
        return session.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()


def set_runtime(name, value):
    with session_scope() as session:
        dynconfig.change(session, name, value, actor="test")


# --- single events ----------------------------------------------------------------------------

def test_a_single_event_is_queued_with_v25s_answer(post, redis):
    response = post(EVENT, headers={"X-Correlation-ID": "rsyslog-42.a:b"})
    assert response.status_code == 200
    assert response.json() == {"status": "queued", "correlation_id": "rsyslog-42.a:b", "queue_depth": 1}
    assert response.headers["X-Correlation-ID"] == "rsyslog-42.a:b"
    [event] = buffered(redis)
    assert event["hostname"] == "core-router-01" and event["syslog_severity"] == 5
    assert event["timestamp"] == "2025-01-15T14:30:22+00:00"
    assert (event["_correlation_id"], event["_source"], event["_key"]) == ("rsyslog-42.a:b", "ingest", "rsyslog dc1")
    assert EventBuffer(redis).backlog() == 1 and EventBuffer(redis).stats()["accepted"] == 1


@pytest.mark.parametrize("presented", ["has spaces", "x" * 65, "ünïcode", ""])
def test_an_unusable_correlation_id_is_replaced_by_a_uuid(post, presented):
    response = post(EVENT, headers={"X-Correlation-ID": presented})
    cid = response.json()["correlation_id"]
    assert cid != presented and len(cid) == 36 and response.headers["X-Correlation-ID"] == cid


@pytest.mark.parametrize("path, deprecated", [("/api/v2/ingest", None), ("/ingest", None), ("/api/v1/ingest", "true")])
def test_the_aliases_accept_the_same_and_v1_says_it_is_deprecated(post, path, deprecated):
    response = post(EVENT, path=path)
    assert response.status_code == 200 and response.json()["status"] == "queued"
    assert response.headers.get("X-API-Deprecated") == deprecated


def test_client_internal_fields_are_stripped(post, redis):
    post({**EVENT, "_retry_count": 99, "_moog_retry_count": 5, "_id": "forged", "site": "dc1"})
    [event] = buffered(redis)
    assert "_retry_count" not in event and "_moog_retry_count" not in event
    assert event["_id"] != "forged" and event["site"] == "dc1"


def test_each_v25_sample_event_posted_alone_is_queued(post, redis):
    samples = json.loads((DATA / "test_data_syslog_events.json").read_text(encoding="utf-8-sig"))
    for sample in samples:
        response = post(sample, path="/ingest")
        assert response.status_code == 200, response.text
    assert [e["message"] for e in buffered(redis)] == [s["message"] for s in samples]


@pytest.mark.parametrize("item, field", [
    ({"message": "m", "timestamp": "2025-01-15T14:30:22Z"}, "hostname: required"),
    ({**EVENT, "timestamp": "last tuesday"}, "timestamp: not a date/time"),
    ({**EVENT, "syslog_severity": 12}, "syslog_severity:"),
    ({**EVENT, "message": 7}, "message: must be a string"),
])
def test_a_single_invalid_event_is_400_naming_the_field_and_nothing_is_queued(post, redis, item, field):
    response = post(item)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error" and body["message"].startswith(field)
    assert body["correlation_id"] == response.headers["X-Correlation-ID"]
    assert buffered(redis) == [] and dead_letters() == []


@pytest.mark.parametrize("raw", ["{broken", "", "null", "[]", "17", '"text"'])
def test_malformed_bodies_are_400(post, raw):
    response = post(raw=raw)
    assert response.status_code == 400 and response.json()["status"] == "error"
    assert response.json()["message"].startswith("body:")


# --- batches ------------------------------------------------------------------------------------

def test_a_json_array_with_bad_items_queues_the_good_ones_and_dead_letters_the_rest(post, redis):
    items = [EVENT, {"message": "no host", "timestamp": 1}, {**EVENT, "hostname": "h2"}, "a string", 5]
    response = post(items, headers={"X-Correlation-ID": "batch-1"})
    assert response.status_code == 200
    assert response.json() == {
        "status": "queued", "accepted": 2, "correlation_id": "batch-1",
        "rejected": [{"index": 1, "error": "hostname: required"},
                     {"index": 3, "error": "event: a JSON str, not an object"},
                     {"index": 4, "error": "event: a JSON int, not an object"}],
    }
    assert [e["hostname"] for e in buffered(redis)] == ["core-router-01", "h2"]
    letters = dead_letters()
    assert [(d.kind, d.reason, d.state) for d in letters] == [("event", "invalid_event", "waiting")] * 3
    assert [d.payload for d in letters] == [items[1], items[3], items[4]]
    assert letters[0].error.startswith("item 1: hostname: required") and "batch-1" in letters[0].error


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "text/plain", "application/json"])
def test_ndjson_as_rsyslog_omhttp_sends_by_default(post, redis, content_type):
    lines = [json.dumps(EVENT), json.dumps({**EVENT, "hostname": "h2"}), '{"hostname": "cut', ""]
    response = post(raw="\n".join(lines), content_type=content_type)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2 and body["rejected"][0]["index"] == 2
    assert body["rejected"][0]["error"].startswith("line is not JSON")
    assert [d.payload for d in dead_letters()] == ['{"hostname": "cut']


def test_rsyslog_kafkarest_batches(post, redis):
    body = {"records": [{"value": EVENT}, {"value": {**EVENT, "hostname": "h2"}}]}
    response = post(body, content_type="application/vnd.kafka.v1+json")
    assert response.status_code == 200 and response.json()["accepted"] == 2


def test_a_gzipped_batch(post, redis):
    response = post(raw=gzip.compress(json.dumps([EVENT] * 3).encode()), headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.json()["accepted"] == 3


def test_v25_demo_snmp_traps_as_one_batch(post, redis):
    traps = json.loads((DATA / "demo_snmp_traps.json").read_text(encoding="utf-8-sig"))
    response = post(traps)
    assert response.status_code == 200 and response.json()["accepted"] == 100 and response.json()["rejected"] == []
    queued = buffered(redis)
    assert all(e["message"].startswith("SNMP trap ") and e["hostname"] for e in queued)


def test_alertmanager_webhook(post, redis):
    notification = {
        "version": "4", "status": "firing", "receiver": "mutt", "groupKey": "g", "externalURL": "http://am",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "HighCPU", "instance": "node1:9100", "severity": "warning"},
             "annotations": {"summary": "CPU hot"}, "startsAt": "2025-11-11T16:34:39Z"},
            {"status": "firing", "labels": {"alertname": "Watchdog"}, "annotations": {}, "startsAt": "2025-11-11T16:34:39Z"},
        ],
    }
    wrong = {"X-API-KEY": None, "Authorization": "Bearer mutt_00000000_wrong"}
    assert post(notification, path="/api/v2/webhooks/alertmanager", headers=wrong).status_code == 401
    response = post(notification, path="/api/v2/webhooks/alertmanager")
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["rejected"] == [{"index": 1, "error": "hostname: required"}]
    [event] = buffered(redis)
    assert (event["hostname"], event["message"], event["syslog_severity"], event["_source"]) == (
        "node1", "HighCPU: CPU hot", 4, "alertmanager")


def test_batch_requests_cut_a_batch_for_each_full_batch_size(post, redis, monkeypatch):
    set_runtime("ingest_batch_size", 10)
    response = post([EVENT] * 25)
    assert response.json()["accepted"] == 25
    assert EventBatches(redis).pending() == 2 and EventBuffer(redis).buffered() == 5
    assert redis.llen("alerts") == 2  # two mutt.process_events tasks on the broker


def test_the_flusher_sends_what_waits_without_filling_a_batch(app, post, redis):
    app.config["MUTT_INGEST_FLUSHER"] = True
    for _ in range(3):
        assert post(EVENT).status_code == 200
    buffer, batches = EventBuffer(redis), EventBatches(redis)
    deadline = time.monotonic() + 10
    # the batch is cut, then its task sent: the first send of a process also connects to the broker
    while (buffer.buffered() or not redis.llen("alerts")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert buffer.buffered() == 0 and batches.pending() >= 1 and redis.llen("alerts") >= 1
    claimed = [batches.claim(batch_id, 60) for batch_id in redis.zrange(redis_keys.BATCHES_PENDING, 0, -1)]
    assert sum(len(claim.events) for claim in claimed) == 3


# --- auth ---------------------------------------------------------------------------------------

def test_missing_and_unknown_keys_are_401_in_v25s_shape(live):
    for headers in ({}, {"X-API-KEY": "mutt_deadbeef_nope"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = requests.post(live + "/ingest", json=EVENT, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json() == {"status": "error", "message": "Unauthorized",
                                   "correlation_id": response.headers["X-Correlation-ID"]}


def test_bearer_header_works_like_x_api_key(live, key, redis):
    response = requests.post(live + "/api/v2/ingest", json=EVENT, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200


@pytest.mark.parametrize("query", ["api_key={key}", "apikey={key}", "token=x", "KEY=x"])
def test_a_key_in_the_url_is_refused_even_with_a_good_header(post, key, query):
    response = post(EVENT, path="/api/v2/ingest?" + query.format(key=key))
    assert response.status_code == 401 and "never in the URL" in response.json()["message"]


def test_a_key_without_the_ingest_scope_is_403(live):
    with session_scope() as session:
        _, reader = api_keys.create(session, "dashboard", ["read", "admin"], actor="test")
    forget_keys()
    response = requests.post(live + "/ingest", json=EVENT, headers={"X-API-KEY": reader}, timeout=10)
    assert response.status_code == 403 and "ingest scope" in response.json()["message"]


def test_rotation_two_keys_work_and_a_revoked_one_stops_within_seconds(post, live, key):
    with session_scope() as session:
        row, second = api_keys.create(session, "rsyslog dc1 (new)", ["ingest"], actor="test")
        second_id = row.id
    forget_keys()
    assert post(EVENT).status_code == 200
    assert requests.post(live + "/ingest", json=EVENT, headers={"X-API-KEY": second}, timeout=10).status_code == 200
    with session_scope() as session:
        api_keys.revoke(session, second_id, actor="test")
    deadline = time.monotonic() + 5
    status = 200
    while status == 200 and time.monotonic() < deadline:
        status = requests.post(live + "/ingest", json=EVENT, headers={"X-API-KEY": second}, timeout=10).status_code
        time.sleep(0.1)
    assert status == 401
    assert post(EVENT).status_code == 200


def test_last_used_is_kept_in_redis_and_synced_to_the_key_row(post, redis):
    post(EVENT)
    with session_scope() as session:
        assert api_keys.sync_last_used(session, redis) == 1
    with session_scope() as session:
        [row] = session.scalars(select(api_keys.ApiKey)).all()
        assert row.last_used_at is not None and abs(row.last_used_at.timestamp() - time.time()) < 60


# --- limits and refusals --------------------------------------------------------------------------

def test_over_the_size_limit_is_413_with_or_without_content_length(post, redis):
    big = [EVENT] * 1000  # ~90 KiB, over the fixture's 64 KiB
    response = post(big)
    assert response.status_code == 413 and response.json()["message"].startswith("body:")
    chunked = post(raw=iter([json.dumps(big).encode()[i:i + 8192] for i in range(0, 90_000, 8192)]))
    assert chunked.status_code == 413
    bomb = post(raw=gzip.compress(b"[" + b" " * 200_000 + b"]"), headers={"Content-Encoding": "gzip"})
    assert bomb.status_code == 413
    assert buffered(redis) == []


@pytest.mark.parametrize("content_type, encoding", [
    ("text/html", None), ("application/x-www-form-urlencoded", None), (None, None), ("application/json", "br"),
])
def test_unsupported_content_type_or_encoding_is_415(post, content_type, encoding):
    headers = {"Content-Encoding": encoding} if encoding else {}
    response = post(EVENT, content_type=content_type, headers=headers)
    assert response.status_code == 415 and response.json()["status"] == "error"


def test_over_a_keys_rate_limit_is_429_with_retry_after(post, redis):
    set_runtime("ingest_rate_limit", 2)
    set_runtime("ingest_rate_window", 60)
    assert [post(EVENT).status_code for _ in range(2)] == [200, 200]
    response = post(EVENT)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["message"] == "Too Many Requests - rate limit exceeded"
    assert response.json()["retry_after"] == int(response.headers["Retry-After"])
    assert len(buffered(redis)) == 2


def test_a_full_backlog_is_503_with_retry_after_and_keeps_nothing_of_the_request(app, post, redis):
    app.config["MAX_CONTENT_LENGTH"] = 5 * 1024 * 1024
    set_runtime("max_ingest_queue_size", 1000)
    assert post([EVENT] * 999).json()["accepted"] == 999
    response = post([EVENT, EVENT])
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
    body = response.json()
    assert (body["message"], body["queue_depth"], body["queue_limit"]) == ("Service Unavailable - queue full", 999, 1000)
    assert post(EVENT).status_code == 200
    assert EventBuffer(redis).stats()["accepted"] == 1000


def test_redis_down_is_503_with_retry_after(post, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{dead}/0")
    config.reset()
    try:
        response = post(EVENT)
    finally:
        monkeypatch.undo()
        config.reset()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.json()["message"] == "Service Unavailable - Redis error"


def test_other_methods_are_405(live):
    response = requests.get(live + "/api/v2/ingest", timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


# --- counting and fuzzing -----------------------------------------------------------------------

def test_every_posted_item_is_either_queued_or_a_dead_letter(post, redis):
    posted = queued = rejected = 0
    for round_ in range(20):
        items = [EVENT] * (round_ % 7) + [{"hostname": "h"}] * (round_ % 3) + ["junk"] * (round_ % 2) + [EVENT]
        body = post(items).json()
        posted += len(items)
        queued += body["accepted"]
        rejected += len(body["rejected"])
    ndjson = post(raw=json.dumps(EVENT) + "\n{oops\n" + json.dumps(EVENT), content_type="application/x-ndjson").json()
    posted, queued, rejected = posted + 3, queued + ndjson["accepted"], rejected + len(ndjson["rejected"])
    assert EventBuffer(redis).stats()["rejected"] == rejected == rejected_waiting(redis)
    assert store_rejected(redis) == rejected and rejected_waiting(redis) == 0
    with session_scope() as session:
        letters = session.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.reason == "invalid_event"))
    assert EventBuffer(redis).stats()["accepted"] == queued == EventBuffer(redis).backlog()
    assert letters == rejected
    assert posted == queued + rejected


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=6),
    max_leaves=30,
)
EVENTISH = st.fixed_dictionaries(
    {}, optional={"hostname": JSON_VALUES | st.text(min_size=1), "message": JSON_VALUES | st.text(),
                  "timestamp": JSON_VALUES | st.integers(0, 2**33) | st.just("2025-01-15T14:30:22Z"),
                  "syslog_severity": JSON_VALUES | st.integers(-1, 8) | st.sampled_from(["Notice", "bogus"]),
                  "trap_oid": JSON_VALUES | st.just(".1.3.6"), "variables": JSON_VALUES, "_x": JSON_VALUES},
)
BODIES = (
    st.builds(lambda v: json.dumps(v).encode(), JSON_VALUES | EVENTISH | st.lists(EVENTISH, max_size=8))
    | st.binary(max_size=300)
    | st.builds(lambda lines: b"\n".join(lines), st.lists(st.binary(max_size=40) | st.builds(
        lambda v: json.dumps(v).encode(), EVENTISH), max_size=6))
)
CONTENT_TYPES = st.sampled_from(["application/json", "application/x-ndjson", "text/plain", "text/html", None,
                                 "application/vnd.kafka.v1+json"])
ENCODINGS = st.sampled_from([None, None, "gzip", "zstd"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, content_type=CONTENT_TYPES, encoding=ENCODINGS,
       path=st.sampled_from(["/api/v2/ingest", "/api/v2/webhooks/alertmanager"]))
def test_any_body_gets_one_of_the_documented_answers_and_the_app_stays_healthy(live, post, body, content_type,
                                                                                encoding, path):
    headers = {"Content-Encoding": encoding} if encoding else {}
    response = post(raw=body, content_type=content_type, headers=headers, path=path)
    assert response.status_code in ANSWERS, response.text
    answer = response.json()
    assert answer["correlation_id"] == response.headers["X-Correlation-ID"]
    assert "Traceback" not in response.text and "Exception" not in response.text
    assert requests.get(live + "/health", timeout=10).status_code == 200


def test_an_ndjson_message_holding_u2028_u2029_or_u0085_is_one_event_not_two_dead_letters(post, redis):
    lines = [json.dumps({**EVENT, "message": f"a{separator}b"}, ensure_ascii=False) for separator in "\u2028\u2029\u0085"]
    response = post(raw="\n".join(lines).encode(), content_type="application/x-ndjson")
    assert response.status_code == 200 and response.json()["accepted"] == 3 and response.json()["rejected"] == []
    assert [e["message"] for e in buffered(redis)] == ["a\u2028b", "a\u2029b", "a\u0085b"]
    assert dead_letters() == []


def test_a_field_of_1e400_is_queued_as_its_text_and_never_becomes_infinity(post, redis):
    raw = json.dumps(EVENT)[:-1] + ', "load": 1e400, "ratio": -1e999}'
    response = post(raw=raw)
    assert response.status_code == 200, response.text
    stored = redis.lrange(redis_keys.INGEST_BUFFER, 0, -1)
    assert len(stored) == 1 and "Infinity" not in stored[0] and "NaN" not in stored[0]
    assert buffered(redis)[0]["load"] == "1e400" and buffered(redis)[0]["ratio"] == "-1e999"
    for constant in ("NaN", "Infinity", "-Infinity"):
        assert post(raw=json.dumps(EVENT)[:-1] + f', "load": {constant}}}').status_code == 400


def test_a_single_event_over_max_event_bytes_is_413_naming_the_limit_and_nothing_is_kept(post, redis):
    set_runtime("max_event_bytes", 2048)
    response = post({**EVENT, "message": "x" * 3000})
    assert response.status_code == 413
    assert response.json()["message"].startswith("event: ") and "at most 2048 (max_event_bytes)" in response.json()["message"]
    assert buffered(redis) == [] and dead_letters() == []
    assert post({**EVENT, "message": "x" * 1500}).status_code == 200


def test_a_batch_queues_the_events_within_max_event_bytes_and_rejects_the_rest_by_index(post, redis):
    set_runtime("max_event_bytes", 2048)
    items = [EVENT, {**EVENT, "message": "x" * 3000}, {**EVENT, "hostname": "h2"}]
    response = post(items)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2 and [r["index"] for r in body["rejected"]] == [1]
    assert "at most 2048 (max_event_bytes)" in body["rejected"][0]["error"]
    assert [e["hostname"] for e in buffered(redis)] == ["core-router-01", "h2"]
    assert [(d.reason, d.payload) for d in dead_letters()] == [("invalid_event", items[1])]


def test_the_default_event_limit_is_64_kib():
    assert dynconfig.setting("max_event_bytes").default == 65_536


@pytest.mark.parametrize("length", ["٣", "²", "1e3", "-1", "3 3"])
def test_a_content_length_that_is_not_ascii_digits_is_a_400_not_a_short_read(length):
    import io

    from mutt_app.ingest import events as event_parsing
    from web.ingest import _body
    with pytest.raises(event_parsing.BodyError, match="Content-Length: not a number"):
        _body({"CONTENT_LENGTH": length, "wsgi.input": io.BytesIO(b'{"a": 1}')}, 1024)
