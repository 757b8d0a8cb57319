import gzip
import json
import zlib
from pathlib import Path

import pytest

from mutt_app.ingest import events
from mutt_app.ingest.events import BodyError, EventError, Invalid, TooLarge, UnsupportedMediaType

DATA = Path(__file__).parents[3] / "data"  # v2.5 sample data
STAMP = events.Stamp("corr-1", "2026-01-01T00:00:00+00:00", "ingest", "rsyslog dc1")
SYSLOG = {"hostname": "core-router-01", "timestamp": "2025-01-15T14:30:22Z", "message": "link down"}


def load(name):
    return json.loads((DATA / name).read_text(encoding="utf-8-sig"))


def normalise(**fields):
    return events.normalise({**SYSLOG, **fields}, STAMP)


def error_of(item):
    with pytest.raises(EventError) as caught:
        events.normalise(item, STAMP)
    return str(caught.value)


# --- bodies -----------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type, media", [
    ("application/json", events.MEDIA_JSON),
    ("application/json; charset=utf-8", events.MEDIA_JSON),
    ("Application/JSON", events.MEDIA_JSON),
    ("application/vnd.kafka.v1+json", events.MEDIA_JSON),
    ("application/x-ndjson", events.MEDIA_NDJSON),
    ("application/jsonl", events.MEDIA_NDJSON),
    ("text/plain", events.MEDIA_TEXT),
])
def test_content_types_that_are_read(content_type, media):
    assert events.media_type(content_type) == media


@pytest.mark.parametrize("content_type", [None, "", "application/x-www-form-urlencoded", "text/html", "multipart/form-data"])
def test_other_content_types_are_refused_with_what_to_send(content_type):
    with pytest.raises(UnsupportedMediaType, match="application/json"):
        events.media_type(content_type)


def test_one_object_is_a_single_event():
    parsed = events.parse_body(json.dumps(SYSLOG), events.MEDIA_JSON)
    assert parsed == events.Parsed([SYSLOG], batch=False)


def test_an_array_is_a_batch_as_is_rsyslog_jsonarray():
    parsed = events.parse_body(json.dumps([SYSLOG, SYSLOG]), events.MEDIA_JSON)
    assert parsed.batch and parsed.items == [SYSLOG, SYSLOG]


@pytest.mark.parametrize("media", [events.MEDIA_NDJSON, events.MEDIA_TEXT, events.MEDIA_JSON])
def test_ndjson_is_a_batch_and_a_bad_line_is_one_invalid_item(media):
    text = json.dumps(SYSLOG) + "\n\n" + '{"hostname": broken\n' + json.dumps(SYSLOG) + "\r\n"
    parsed = events.parse_body(text, media)
    assert parsed.batch and len(parsed.items) == 3
    assert parsed.items[0] == SYSLOG == parsed.items[2]
    assert isinstance(parsed.items[1], Invalid) and parsed.items[1].raw == '{"hostname": broken'
    assert parsed.items[1].error.startswith("line is not JSON")


def test_kafkarest_records_are_a_batch():
    body = {"records": [{"value": SYSLOG}, {"value": json.dumps(SYSLOG)}, {"key": "k"}, {"value": "{nope"}]}
    parsed = events.parse_body(json.dumps(body), events.MEDIA_JSON)
    assert parsed.batch and parsed.items[:2] == [SYSLOG, SYSLOG]
    assert parsed.items[2].error == "records[2]: no value"
    assert parsed.items[3].error.startswith("records[3].value: not JSON")


def test_an_event_with_a_records_field_stays_a_single_event():
    event = {**SYSLOG, "records": [1, 2]}
    assert events.parse_body(json.dumps(event), events.MEDIA_JSON) == events.Parsed([event], batch=False)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   \n", "empty"),
    ("{not json", "not JSON"),
    ("[]", "empty batch"),
    ("null", "JSON null"),
    ("42", "JSON int"),
    ('"text"', "JSON str"),
    ('{"a": NaN}', "not JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("garbage\nmore garbage", "not JSON"),
])
def test_bodies_that_are_no_accepted_shape(text, message):
    with pytest.raises(BodyError, match=message):
        events.parse_body(text, events.MEDIA_JSON)


def test_too_many_events_in_one_request():
    with pytest.raises(TooLarge, match="at most"):
        events.parse_body(json.dumps([SYSLOG] * (events.MAX_BATCH_EVENTS + 1)), events.MEDIA_JSON)


def test_decode_reads_utf8_with_or_without_bom_and_gzip_or_deflate():
    text = json.dumps(SYSLOG)
    assert events.decode(text.encode(), None, 10_000) == text
    assert events.decode(b"\xef\xbb\xbf" + text.encode(), None, 10_000) == text
    assert events.decode(gzip.compress(text.encode()), "gzip", 10_000) == text
    assert events.decode(zlib.compress(text.encode()), "deflate", 10_000) == text


def test_decode_refuses_bad_bytes_bombs_and_unknown_encodings():
    with pytest.raises(BodyError, match="not UTF-8"):
        events.decode(b"\xff\xfe{}", None, 100)
    with pytest.raises(TooLarge, match="once decompressed"):
        events.decode(gzip.compress(b" " * 10_000), "gzip", 1000)
    with pytest.raises(BodyError, match="not valid gzip"):
        events.decode(b"plain", "gzip", 1000)
    with pytest.raises(BodyError, match="truncated"):
        events.decode(gzip.compress(b"x" * 500)[:-12], "gzip", 1000)
    with pytest.raises(UnsupportedMediaType, match="Content-Encoding"):
        events.decode(b"x", "br", 1000)


def test_nul_characters_and_lone_surrogates_are_replaced_because_postgresql_cannot_store_them():
    parsed = events.parse_body('{"message": "a\\u0000b", "x\\u0000": ["\\ud800", "\\ud83d\\ude00"]}', events.MEDIA_JSON)
    assert parsed.items[0] == {"message": "a\ufffdb", "x\ufffd": ["\ufffd", "\U0001F600"]}


# --- Alertmanager / Grafana -----------------------------------------------------------------

ALERTMANAGER = {
    "version": "4", "groupKey": "{}:{alertname=\"HighCPU\"}", "status": "firing", "receiver": "mutt",
    "groupLabels": {"alertname": "HighCPU"}, "commonLabels": {}, "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
    "alerts": [
        {"status": "firing", "labels": {"alertname": "HighCPU", "instance": "node1.example.com:9100", "severity": "critical"},
         "annotations": {"summary": "CPU above 95% for 5 minutes"}, "startsAt": "2025-11-11T16:34:39.711Z",
         "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": "c0ffee"},
        {"status": "resolved", "labels": {"alertname": "DiskFull", "instance": "[2001:db8::1]:9100"},
         "annotations": {}, "startsAt": "2025-11-11T16:00:00Z", "endsAt": "2025-11-11T16:30:00Z"},
        {"status": "firing", "labels": {"alertname": "Watchdog"}, "annotations": {}, "startsAt": "2025-11-11T16:00:00Z"},
    ],
}


def test_alertmanager_webhook_gives_one_event_per_alert():
    parsed = events.parse_alertmanager(json.dumps(ALERTMANAGER))
    assert parsed.batch and len(parsed.items) == 3
    stamp = events.Stamp("c", "2026-01-01T00:00:00+00:00", "alertmanager", "am")
    first = events.normalise(parsed.items[0], stamp)
    assert first["hostname"] == "node1.example.com"
    assert first["message"] == "HighCPU: CPU above 95% for 5 minutes"
    assert first["timestamp"] == "2025-11-11T16:34:39.711000+00:00"
    assert first["syslog_severity"] == 2 and first["severity"] == "critical"
    assert first["labels"]["instance"] == "node1.example.com:9100"
    assert first["annotations"] == {"summary": "CPU above 95% for 5 minutes"}
    assert first["source_type"] == "alertmanager" and first["receiver"] == "mutt" and first["fingerprint"] == "c0ffee"
    assert first["_source"] == "alertmanager"
    second = events.normalise(parsed.items[1], stamp)
    assert second["hostname"] == "[2001:db8::1]:9100" and second["message"] == "DiskFull"
    with pytest.raises(EventError, match="hostname: required"):
        events.normalise(parsed.items[2], stamp)


@pytest.mark.parametrize("body", ["{}", '{"alerts": {}}', "[1]", "nope"])
def test_alertmanager_bodies_without_alerts(body):
    with pytest.raises(BodyError):
        events.parse_alertmanager(body)


# --- one event --------------------------------------------------------------------------------

def test_canonical_event_keeps_client_fields_strips_underscored_ones_and_adds_muttʼs_own():
    event = normalise(facility="local5", _retry_count=99, _id="forged", _correlation_id="forged")
    assert event["facility"] == "local5"
    assert "_retry_count" not in event
    assert event["_id"] != "forged" and len(event["_id"]) == 32
    assert (event["_correlation_id"], event["_received_at"], event["_source"], event["_key"]) == (
        "corr-1", "2026-01-01T00:00:00+00:00", "ingest", "rsyslog dc1")
    assert event["source_type"] == "syslog"
    assert normalise()["_id"] != normalise()["_id"]


@pytest.mark.parametrize("value, expected", [
    ("2025-01-15T14:30:22Z", "2025-01-15T14:30:22+00:00"),
    ("2025-01-15T14:30:22.123456+02:00", "2025-01-15T12:30:22.123456+00:00"),
    ("2025-11-11T16:34:39.7110083Z", "2025-11-11T16:34:39.711008+00:00"),
    ("2025-01-15 14:30:22", "2025-01-15T14:30:22+00:00"),
    ("2025-01-15t14:30:22z", "2025-01-15T14:30:22+00:00"),
    ("2025-01-15T14:30:22-05:00", "2025-01-15T19:30:22+00:00"),
    (1736951422, "2025-01-15T14:30:22+00:00"),
    (1736951422.5, "2025-01-15T14:30:22.500000+00:00"),
    ("1736951422", "2025-01-15T14:30:22+00:00"),
    (1736951422000, "2025-01-15T14:30:22+00:00"),
])
def test_timestamps_become_utc_iso8601(value, expected):
    assert normalise(timestamp=value)["timestamp"] == expected


@pytest.mark.parametrize("value", ["yesterday", "", "2025-13-01T00:00:00Z", True, [2025], {"t": 1}, 1e300,
                                   "0001-01-01T00:00:00+01:00", float("nan")])
def test_bad_timestamps_name_the_field(value):
    assert error_of({**SYSLOG, "timestamp": value}).startswith("timestamp: not a date/time")


@pytest.mark.parametrize("value, expected", [
    (0, 0), (7, 7), ("3", 3), (4.0, 4),
    ("emerg", 0), ("Emergency", 0), ("ALERT", 1), ("crit", 2), ("Critical", 2), ("err", 3), ("Error", 3),
    ("warning", 4), ("WARN", 4), ("notice", 5), ("info", 6), ("Informational", 6), ("debug", 7), (" Notice ", 5),
])
def test_syslog_severity_ints_and_names(value, expected):
    assert normalise(syslog_severity=value)["syslog_severity"] == expected


@pytest.mark.parametrize("value", [8, -1, "loud", True, 2.5, [1], "major"])
def test_bad_syslog_severity_names_the_field(value):
    assert error_of({**SYSLOG, "syslog_severity": value}).startswith("syslog_severity: not a syslog severity")


def test_a_free_text_severity_fills_syslog_severity_when_it_is_a_known_name():
    assert normalise(severity="Major")["syslog_severity"] == 3
    assert normalise(severity="warning")["syslog_severity"] == 4
    assert "syslog_severity" not in normalise(severity="purple")
    assert normalise(severity="purple")["severity"] == "purple"
    assert normalise(severity="debug", syslog_severity="err")["syslog_severity"] == 3
    assert "syslog_severity" not in normalise(syslog_severity=None)


@pytest.mark.parametrize("value, expected", [(".1.3.6.1.4.1.9", "1.3.6.1.4.1.9"), ("1.3.6", "1.3.6"), (" .1.3 ", "1.3")])
def test_trap_oid_is_stored_without_a_leading_dot(value, expected):
    assert normalise(trap_oid=value)["trap_oid"] == expected


@pytest.mark.parametrize("value", ["SNMPv2-MIB::coldStart", "1..3", "", 1.3, ["1.3"]])
def test_bad_trap_oid_names_the_field(value):
    assert error_of({**SYSLOG, "trap_oid": value}).startswith("trap_oid: not a numeric OID")


@pytest.mark.parametrize("item, message", [
    ({"message": "m", "timestamp": 1}, "hostname: required"),
    ({**SYSLOG, "hostname": None}, "hostname: required"),
    ({**SYSLOG, "hostname": "  "}, "hostname: must be a non-empty string"),
    ({**SYSLOG, "hostname": 42}, "hostname: must be a non-empty string"),
    ({**SYSLOG, "hostname": "h" * 256}, "hostname: longer than 255"),
    ({"hostname": "h", "timestamp": 1}, "message: required"),
    ({**SYSLOG, "message": {"text": "x"}}, "message: must be a string"),
    ({"hostname": "h", "message": "m"}, "timestamp: required"),
    ([SYSLOG], "event: a JSON list, not an object"),
    (None, "event: a JSON null, not an object"),
    (Invalid("raw", "line is not JSON: x"), "line is not JSON: x"),
])
def test_invalid_events_name_the_field(item, message):
    assert error_of(item).startswith(message)


def test_hostname_is_trimmed_and_an_empty_message_is_allowed():
    event = normalise(hostname="  edge-fw-02 ", message="")
    assert event["hostname"] == "edge-fw-02" and event["message"] == ""


def test_v25_demo_snmp_trap_shape():
    trap = {"source_ip": "192.168.1.188", "timestamp": "2025-11-11T16:34:39.7110083Z", "trap_oid": ".1.3.6.1.6.3.1.1.5.1",
            "variables": ["@{oid=1.3.6.1.2.1.1.3.0; value=12345}",
                          "@{oid=1.3.6.1.2.1.1.5.0; value=core-router-01.dc1.example.com}"],
            "severity": "Alert"}
    event = events.normalise(trap, STAMP)
    assert event["hostname"] == "core-router-01.dc1.example.com"
    assert event["trap_oid"] == "1.3.6.1.6.3.1.1.5.1"
    assert event["variables"] == [{"oid": "1.3.6.1.2.1.1.3.0", "value": "12345"},
                                  {"oid": "1.3.6.1.2.1.1.5.0", "value": "core-router-01.dc1.example.com"}]
    assert event["message"] == ("SNMP trap 1.3.6.1.6.3.1.1.5.1 from 192.168.1.188: 1.3.6.1.2.1.1.3.0=12345; "
                                "1.3.6.1.2.1.1.5.0=core-router-01.dc1.example.com")
    assert event["syslog_severity"] == 1 and event["source_type"] == "snmp_trap"


def test_a_trap_without_sysname_is_named_by_its_source_ip_and_keeps_a_given_message():
    trap = {"source_ip": "10.0.0.9", "timestamp": 1, "trap_oid": "1.3.6.1.4.1.9", "message": "fan failed",
            "variables": {".1.3.6.1.4.1.9.1": "Fan tray bad"}}
    event = events.normalise(trap, STAMP)
    assert event["hostname"] == "10.0.0.9" and event["message"] == "fan failed"
    assert event["variables"] == [{"oid": "1.3.6.1.4.1.9.1", "value": "Fan tray bad"}]


def test_variables_of_an_unknown_shape_are_kept_as_given():
    assert normalise(variables="a=b")["variables"] == "a=b"
    assert normalise(variables=["x", "@{oid=1; value=2}"])["variables"] == ["x", "@{oid=1; value=2}"]
    assert normalise(variables=[{"oid": ".1.2", "value": 3}])["variables"] == [{"oid": "1.2", "value": 3}]


def test_every_v25_sample_syslog_event_is_accepted():
    for name in ("test_data_syslog_events.json", "demo_syslog_events.json"):
        for item in load(name):
            event = events.normalise(item, STAMP)
            assert event["hostname"] == item["hostname"] and event["message"] == item["message"]
            assert 0 <= event["syslog_severity"] <= 7
            assert event["timestamp"].endswith("+00:00")
            if "trap_oid" in item:
                assert event["trap_oid"] == item["trap_oid"].lstrip(".")


def test_every_v25_demo_snmp_trap_is_accepted_with_a_host_and_a_message():
    traps = load("demo_snmp_traps.json")
    assert len(traps) == 100
    for item in traps:
        event = events.normalise(item, STAMP)
        sysname = [v.split("value=")[1].rstrip("}") for v in item["variables"] if "oid=1.3.6.1.2.1.1.5.0;" in v]
        assert event["hostname"] == (sysname[0] if sysname else item["source_ip"])
        assert event["message"].startswith(f"SNMP trap {item['trap_oid']} from {item['source_ip']}")
        assert all(f"{v['oid']}={v['value']}" in event["message"] for v in event["variables"])
        assert event["syslog_severity"] in (1, 2, 3, 4, 6)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_ndjson_lines_split_only_at_newline_so_a_message_may_hold_any_other_line_separator(separator):
    # json.dumps(ensure_ascii=False) leaves these unescaped; str.splitlines() cut the event in two
    first = {**SYSLOG, "message": f"line one{separator}line two"}
    text = json.dumps(first, ensure_ascii=False) + "\r\n" + json.dumps(SYSLOG, ensure_ascii=False) + "\n"
    for media in (events.MEDIA_NDJSON, events.MEDIA_JSON):
        parsed = events.parse_body(text, media)
        assert parsed.items == [first, SYSLOG]


@pytest.mark.parametrize("number, kept", [("1e400", "1e400"), ("-1E+400", "-1E+400"), ("1" + "0" * 400 + ".5", "1" + "0" * 400 + ".5")])
def test_a_number_too_big_for_a_float_is_kept_as_its_own_text(number, kept):
    # float("1e400") is inf, and json.dumps(inf) writes a bare Infinity that is not JSON
    parsed = events.parse_body(f'{{"hostname": "h", "message": "m", "timestamp": 1, "load": {number}}}',
                               events.MEDIA_JSON)
    event = events.normalise(parsed.items[0], events.Stamp("c", "r", "ingest", "k"))
    assert event["load"] == kept
    assert json.loads(json.dumps(event, allow_nan=False))["load"] == kept


@pytest.mark.parametrize("field, value", [("timestamp", "1e400"), ("syslog_severity", "1e400")])
def test_a_number_too_big_for_a_float_where_a_number_is_needed_refuses_the_event(field, value):
    item = events.parse_body(f'{{"hostname": "h", "message": "m", "timestamp": 1, "{field}": {value}}}',
                             events.MEDIA_JSON).items[0]
    with pytest.raises(events.EventError, match=f"^{field}: "):
        events.normalise(item, events.Stamp("c", "r", "ingest", "k"))
