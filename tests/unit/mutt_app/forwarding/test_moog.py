import json
import os
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from mutt_app.core import json_bytes
from mutt_app.forwarding import moog, outbox
from mutt_app.storage import db
from mutt_app.storage.models import Alert
from mutt_app.tools.moog_standin import MoogStandin
from tests.support.alerts import insert_alerts


def make_alert(**overrides) -> Alert:
    values = dict(
        id="a" * 32, kind="rule", state="pending", rule_id=7, rule_name="BGP down", hostname="core-rtr-1",
        team="NETO", severity=5, decision="page_and_ticket", environment="prod", signature="sig-123",
        description="BGP neighbour 10.0.0.1 down", event_time=datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC),
        correlation_id="corr-1", event={"hostname": "core-rtr-1", "message": "BGP neighbour 10.0.0.1 down"},
        attempts=0, created_at=datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC),
    )
    values.update(overrides)
    return Alert(**values)


def test_the_payload_carries_every_moogsoft_field_from_the_alert():
    payload = moog.payload(make_alert())
    assert payload == {
        "signature": "sig-123",
        "source_id": "core-rtr-1",
        "external_id": "a" * 32,
        "manager": "MUTT",
        "source": "MUTT Alerter",
        "agent": moog.AGENT,
        "agent_location": "Alerter Service",
        "type": "Alert",
        "class": "NETO",
        "severity": 5,
        "description": "BGP neighbour 10.0.0.1 down",
        "agent_time": int(datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC).timestamp()),
        "custom_info": {
            "decision": "page_and_ticket", "environment": "prod", "rule_id": 7, "rule_name": "BGP down",
            "correlation_id": "corr-1", "alert_kind": "rule",
            "event": {"hostname": "core-rtr-1", "message": "BGP neighbour 10.0.0.1 down"},
        },
    }
    json.dumps(payload)  # it goes over the wire as JSON


def test_the_payload_is_the_same_on_every_send_and_clamps_severity():
    alert = make_alert(severity=9, kind="meta", event_time=None)
    assert moog.payload(alert) == moog.payload(alert)
    assert moog.payload(alert)["severity"] == 5
    assert moog.payload(make_alert(severity=-1))["severity"] == 0
    assert moog.payload(alert)["type"] == "Unhandled Events"
    assert moog.payload(alert)["agent_time"] == int(alert.created_at.timestamp())  # no event time: when raised


def test_a_claimed_alert_is_sent_as_its_stored_alert_is_whatever_its_event_holds(database_url):
    event = {"hostname": "core-rtr-1", "message": "lien coupé \u00e9 \"quoted\" \\ back", "counter64": 2**64 - 1,
             "beyond": 2**80, "ratio": 0.1, "nested": {"list": [1, None, True, "x"]}, "empty": {}}
    lifecycle = {"send": "open", "alert_id": 3, "alert_state": "open", "occurrences": 2, "flapping": False}
    [alert_id] = insert_alerts(1, event=event, lifecycle=lifecycle)
    with db.session_scope() as session:
        stored = session.get(Alert, alert_id)
        expected = json.loads(json_bytes.encode(moog.request_body([stored])))
        [claimed] = outbox.claim(session, [alert_id], lease_seconds=60)
    sent = json.loads(json_bytes.encode(moog.request_body([claimed])))
    assert sent == expected
    assert sent["custom_info"]["event"] == event and sent["custom_info"]["occurrences"] == 2
    assert json.loads(json_bytes.encode(moog.request_body([claimed, claimed])))["events"] == [expected, expected]


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(status):
    assert moog.classify(status).kind == moog.DELIVERED


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599])
def test_throttling_and_server_errors_are_retried(status):
    outcome = moog.classify(status, {}, "busy")
    assert outcome.kind == moog.RETRY and outcome.status == status
    assert not outcome.moog_answered


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 301, 302])
def test_other_answers_are_permanent_with_status_and_body_start(status):
    outcome = moog.classify(status, {}, "x" * 2000)
    assert outcome.kind == moog.PERMANENT
    assert outcome.error == f"HTTP {status}: " + "x" * moog.BODY_START
    assert outcome.moog_answered


def test_retry_after_is_honoured_on_429_and_503_only():
    assert moog.classify(429, {"Retry-After": "2"}).retry_after == 2.0
    assert moog.classify(503, {"Retry-After": "7"}).retry_after == 7.0
    assert moog.classify(500, {"Retry-After": "7"}).retry_after is None
    assert moog.classify(429, {}).retry_after is None


def test_retry_after_parsing():
    now = time.time()
    assert moog.parse_retry_after("2") == 2.0
    assert moog.parse_retry_after(" 1.5 ") == 1.5
    assert moog.parse_retry_after("-3") == 0.0
    when = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert 28 <= moog.parse_retry_after(when, now=now) <= 31
    past = format_datetime(datetime.fromtimestamp(now - 30, UTC), usegmt=True)
    assert moog.parse_retry_after(past, now=now) == 0.0
    for nonsense in (None, "", "soon", "nan", "inf"):
        assert moog.parse_retry_after(nonsense) is None


def test_the_client_sends_the_key_in_the_header_only(standin):
    client = moog.MoogClient(standin.url, "s3cret-key", timeout=5)
    outcome = client.send(moog.payload(make_alert()))
    assert outcome.kind == moog.DELIVERED and outcome.status == 200
    received = standin.received[0]
    assert received.headers["Authorization"] == "Bearer s3cret-key"
    assert "s3cret-key" not in json.dumps(received.body)
    assert received.body["external_id"] == "a" * 32


def test_the_client_goes_through_the_proxy_the_environment_names_and_ignores_netrc(standin, monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine moog.example.net login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", standin.url.removesuffix("/events"))
    monkeypatch.setenv("NO_PROXY", "localhost")
    outcome = moog.MoogClient("http://moog.example.net/events", "s3cret-key", timeout=5).send({"n": 1})
    assert outcome.kind == moog.DELIVERED
    received = standin.received[0]
    assert received.body == {"n": 1} and received.headers["Authorization"] == "Bearer s3cret-key"
    direct = MoogStandin("localhost").start()  # named in NO_PROXY: reached directly, not by the proxy
    try:
        assert moog.MoogClient(f"http://localhost:{direct.url.split(':')[-1]}", "k", timeout=5).send({}).kind == moog.DELIVERED
        assert len(direct.received) == 1 and len(standin.received) == 1
    finally:
        direct.stop()


@pytest.fixture
def tls_standin(tmp_path):
    """A stand-in on HTTPS with a self-signed certificate for 127.0.0.1; yields it and the certificate."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = MoogStandin(tls=context).start()
    yield server, cert
    server.stop()


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_tls_is_checked_against_the_ca_bundle_the_environment_names(tls_standin, monkeypatch):
    standin, cert = tls_standin
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    untrusted = moog.MoogClient(standin.url, "k", timeout=5).send({"n": 1})
    assert untrusted.kind == moog.RETRY and untrusted.status is None and "SSL" in untrusted.error
    assert moog.MoogClient(standin.url, "k", timeout=5, verify=False).send({"n": 2}).kind == moog.DELIVERED
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    assert moog.MoogClient(standin.url, "k", timeout=5).send({"n": 3}).kind == moog.DELIVERED
    assert [r.body for r in standin.received] == [{"n": 2}, {"n": 3}]


def test_the_client_classifies_what_the_server_answers(standin):
    client = moog.MoogClient(standin.url, "s3cret-key", timeout=5)
    standin.behave(429, retry_after=2, times=1)
    assert client.send({}) == moog.Outcome(moog.RETRY, 429, 'HTTP 429: {"message": "stand-in error"}', 2.0)
    standin.behave(400, body="missing field severity", times=1)
    outcome = client.send({})
    assert outcome.kind == moog.PERMANENT and "missing field severity" in outcome.error


def test_a_timeout_and_a_refused_connection_are_retried_without_leaking_the_url(standin):
    standin.behave(200, delay=1.5, times=1)
    outcome = moog.MoogClient(standin.url, "k", timeout=0.5).send({})
    assert outcome.kind == moog.RETRY and outcome.status is None and "timeout" in outcome.error
    from tests.support.processes import free_port

    url = f"http://user:pw@127.0.0.1:{free_port()}/events"
    outcome = moog.MoogClient(url, "k", timeout=0.5).send({})
    assert outcome.kind == moog.RETRY and "pw" not in outcome.error and "127.0.0.1" not in outcome.error


def test_a_number_json_cannot_carry_goes_as_null_or_the_alert_fails_permanently_never_as_invalid_json(standin):
    client = moog.MoogClient(standin.url, "k", timeout=5)
    assert client.send({"description": "x", "load": float("nan"), "peak": float("inf")}).kind == moog.DELIVERED
    assert standin.received[0].body == {"description": "x", "load": None, "peak": None}
    outcome = client.send({"description": "x", "big": 2**70, "load": float("nan")})  # orjson cannot: the json module refuses
    assert outcome.kind == moog.PERMANENT and "JSON cannot carry" in outcome.error
    assert len(standin.received) == 1


def test_a_wave_of_requests_is_in_flight_at_once_and_its_outcomes_come_back_in_order(standin):
    client = moog.MoogClient(standin.url, "k", timeout=5)
    standin.behave(200, delay=0.5, times=4)
    outcomes = client.send_all([{"n": 1}, {"n": 2}, {"n": 2**70, "x": float("nan")}, {"n": 3}, {"n": 4}])
    assert [outcome.kind for outcome in outcomes] == [moog.DELIVERED] * 2 + [moog.PERMANENT] + [moog.DELIVERED] * 2
    arrivals = sorted(r.at for r in standin.received)
    assert len(arrivals) == 4 and arrivals[-1] - arrivals[0] < 0.5  # all four arrived before the first answer
    standin.behave(503, retry_after=7, times=1)
    again = client.send_all([{"n": 5}, {"n": 6}])  # the same connections, answered in any order
    assert sorted(outcome.status for outcome in again) == [200, 503]
    assert {outcome.retry_after for outcome in again} == {None, 7.0}


def test_an_answer_body_is_kept_only_as_far_as_the_dead_letter_needs(standin):
    standin.behave(400, body="x" * 100_000, times=1)
    outcome = moog.MoogClient(standin.url, "k", timeout=5).send({})
    assert outcome.kind == moog.PERMANENT and outcome.status == 400
    assert outcome.error == 'HTTP 400: {"message": "' + "x" * (moog.BODY_START - len('{"message": "'))


def test_libcurl_is_loaded_by_the_first_client_not_by_the_processes_that_only_import_the_tasks():
    # pycurl's wheel brings its own OpenSSL: a worker's main process that also held Python's (Redis
    # over TLS) could abort with a double free as it exited.
    script = ("import sys; import mutt_app.celery_app, tasks.forwarder, web.wsgi; print('pycurl' in sys.modules); "
              "from mutt_app.forwarding import moog; moog.MoogClient('http://127.0.0.1:9/', '', 1.0); "
              "print('pycurl' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "MUTT_ENV": "test"})
    assert loaded.stdout.split() == ["False", "True"], loaded.stderr[-2000:]
