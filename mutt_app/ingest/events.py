"""Request bodies -> items -> canonical events. Pure functions: no Flask, no Redis, no I/O.

Accepted bodies (``parse_body``): one JSON object (a single event); a JSON array of objects
(also rsyslog omhttp ``batch.format="jsonarray"``); NDJSON, one object per line (omhttp's default
``newline`` format); omhttp ``kafkarest`` (``{"records": [{"value": {...}}, ...]}``). The
Alertmanager / Grafana webhook (version 4) has its own parser, ``parse_alertmanager``: one item
per alert.

``normalise`` turns one item into the canonical event (see docs/ingest.md), or raises
``EventError`` naming the field at fault.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from mutt_app.core import ids
from mutt_app.errors import InvalidInput

MEDIA_JSON = "json"
MEDIA_NDJSON = "ndjson"
MEDIA_TEXT = "text"

# Content types a sender may declare, and how the body is read.
MEDIA_TYPES = {
    "application/json": MEDIA_JSON,
    "application/x-ndjson": MEDIA_NDJSON,
    "application/ndjson": MEDIA_NDJSON,
    "application/jsonl": MEDIA_NDJSON,
    "application/x-jsonlines": MEDIA_NDJSON,
    "application/jsonlines": MEDIA_NDJSON,
    "text/plain": MEDIA_TEXT,  # omhttp's batch.format="newline" declares text/plain
}

SEVERITIES = {
    "emerg": 0, "emergency": 0, "panic": 0,
    "alert": 1,
    "crit": 2, "critical": 2,
    "err": 3, "error": 3,
    "warning": 4, "warn": 4,
    "notice": 5,
    "info": 6, "informational": 6,
    "debug": 7,
}
# A free-text `severity` (v2.5's rsyslog template, SNMP trap senders, Alertmanager labels) also
# knows these; `syslog_severity` itself takes only the syslog names.
SEVERITY_ALIASES = {**SEVERITIES, "major": 3, "minor": 4, "page": 2, "fatal": 2}

SYSNAME_OID = "1.3.6.1.2.1.1.5.0"
MAX_HOSTNAME = 255
MAX_BATCH_EVENTS = 5000  # per request; bigger bodies must be split (413)
EPOCH_MS_FROM = 1e11      # numbers from here on are epoch milliseconds (1e11 s is the year 5138)
# Trusted fields of an Alertmanager event, set by ``normalise`` only (it drops every "_" field a
# sender sends): the key that pairs a `resolved` notification with its `firing` one, and whether
# the alert is resolved. The rule matcher reads them (docs/rules.md "Clears and keys").
ALERT_KEY_FIELD = "_alert_key"
RESOLVED_FIELD = "_resolved"

_OID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_PS_VARBIND = re.compile(r"^@\{oid=(?P<oid>[^;]*);\s*value=(?P<value>.*)\}$", re.S)
_PORT = re.compile(r":[0-9]{1,5}$")
_FINGERPRINT = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
# PostgreSQL cannot store NUL characters or unpaired surrogates; both only reach Python via
# \u escapes, so the (rare) bodies that contain such an escape are cleaned after parsing.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
# json.dumps(event, allow_nan=False), made once: json.dumps builds an encoder per call unless
# every option is the default
_ENCODER = json.JSONEncoder(allow_nan=False)


class BodyError(InvalidInput):
    """The body is not one of the accepted shapes (400)."""


class UnsupportedMediaType(InvalidInput):
    """The declared content type or encoding is not one MUTT reads (415)."""


class TooLarge(InvalidInput):
    """The body, once decompressed, or its number of events is over the limit (413)."""


class EventError(InvalidInput):
    """An item is not a valid event; the message names the field."""


class EventTooLarge(EventError):
    """A canonical event over the ``max_event_bytes`` runtime setting (413 when it is a request's
    only event; a rejected item of a batch otherwise)."""


@dataclass(frozen=True)
class Invalid:
    """An item of a batch that could not even be read (a bad NDJSON line, a record without value)."""

    raw: Any
    error: str


@dataclass(frozen=True)
class Parsed:
    items: list[Any]   # JSON values, or Invalid
    batch: bool        # False: the body was one event, answered as v2.5 did


class AlertmanagerItem(dict[str, Any]):
    """One alert of an Alertmanager webhook as an item, with what ``normalise`` turns into the
    trusted fields: a sender's JSON cannot make one of these, so it cannot set them."""

    def __init__(self, fields: dict[str, Any], key: str | None, resolved: bool) -> None:
        super().__init__(fields)
        self.key = key
        self.resolved = resolved


@dataclass(frozen=True)
class Stamp:
    """What MUTT adds to every event of one request."""

    correlation_id: str
    received_at: str
    source: str
    key: str


def media_type(content_type: str | None) -> str:
    """How to read a body declared as ``content_type`` (UnsupportedMediaType if MUTT cannot)."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    media = MEDIA_TYPES.get(declared)
    if media is None and declared.startswith("application/") and declared.endswith("+json"):
        media = MEDIA_JSON  # e.g. omhttp kafkarest's application/vnd.kafka.v1+json
    if media is None:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {declared or '(none)'!r}: send application/json, "
            "application/x-ndjson or text/plain (NDJSON)"
        )
    return media


def decode(body: bytes, content_encoding: str | None, limit: int) -> str:
    """The body as text: gunzipped if so declared (at most ``limit`` bytes), UTF-8."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            inflater = zlib.decompressobj(wbits=47 if encoding != "deflate" else 15)
            body = inflater.decompress(body, limit + 1)
        except zlib.error as error:
            raise BodyError(f"body: not valid {encoding} data ({error})") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise TooLarge(f"body: more than {limit} bytes once decompressed")
        if not inflater.eof:
            raise BodyError(f"body: truncated {encoding} data")
    elif encoding != "identity":
        raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r}: send gzip or none")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BodyError(f"body: not UTF-8 (byte {error.start})") from None


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _number(text: str) -> float | str:
    """A JSON number with a fraction or exponent: a float if one can hold it, else its own text
    (``1e400`` would be ``inf``, which JSON cannot carry on to Moogsoft)."""
    value = float(text)
    return value if math.isfinite(value) else text


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant, parse_float=_number)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    return value


def _parse_json(text: str) -> Any:
    """json.loads, also rejecting NaN/Infinity and cleaning what PostgreSQL cannot store."""
    value = _loads(text)
    if "\\u" in text and _UNSTORABLE_ESCAPE.search(text):
        value = _clean(value)
    return value


def _json_error(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)


def _ndjson(lines: list[str]) -> list[Any]:
    items = []
    for line in lines:
        try:
            items.append(_parse_json(line))
        except (ValueError, RecursionError) as error:
            items.append(Invalid(line.replace("\x00", "\ufffd"), f"line is not JSON: {_json_error(error)}"))
    return items


def ndjson_lines(text: str) -> list[str]:
    """The non-blank NDJSON lines of ``text``: split at "\n" and "\r\n" only. (``str.splitlines``
    also splits at U+2028, U+2029, U+0085 and others, which JSON strings may hold unescaped.)"""
    return [line.removesuffix("\r") for line in text.split("\n") if line.strip()]


def parse_body(text: str, media: str) -> Parsed:
    """Split a decoded ingest body into items (BodyError if it is none of the accepted shapes)."""
    if not text.strip():
        raise BodyError("body: empty; send a JSON object, a JSON array or NDJSON")
    if media == MEDIA_NDJSON:
        return _batch(_ndjson(ndjson_lines(text)))
    try:
        value = _parse_json(text)
    except (ValueError, RecursionError) as error:
        lines = ndjson_lines(text)
        if len(lines) > 1:
            items = _ndjson(lines)
            if any(not isinstance(item, Invalid) for item in items):
                return _batch(items)
        raise BodyError(f"body: not JSON: {_json_error(error)}") from None
    if isinstance(value, list):
        return _batch(value)
    if isinstance(value, dict):
        records = value.get("records")
        if isinstance(records, list) and len(value) == 1:
            return _batch([_kafka_value(index, record) for index, record in enumerate(records)])
        return Parsed([value], batch=False)
    raise BodyError(f"body: a JSON {type(value).__name__ if value is not None else 'null'}, not an event object or a batch")


def _batch(items: list[Any]) -> Parsed:
    if not items:
        raise BodyError("body: an empty batch (no events)")
    if len(items) > MAX_BATCH_EVENTS:
        raise TooLarge(f"body: {len(items)} events in one request; at most {MAX_BATCH_EVENTS}")
    return Parsed(items, batch=True)


def _kafka_value(index: int, record: Any) -> Any:
    if not isinstance(record, dict) or "value" not in record:
        return Invalid(record, f"records[{index}]: no value")
    value = record["value"]
    if isinstance(value, str):
        try:
            return _parse_json(value)
        except (ValueError, RecursionError) as error:
            return Invalid(record, f"records[{index}].value: not JSON: {_json_error(error)}")
    return value


# --- Alertmanager / Grafana webhook (version 4) ----------------------------------------------

def parse_alertmanager(text: str) -> Parsed:
    """One item per alert of an Alertmanager or Grafana webhook notification."""
    try:
        value = _parse_json(text)
    except (ValueError, RecursionError) as error:
        raise BodyError(f"body: not JSON: {_json_error(error)}") from None
    if not isinstance(value, dict) or not isinstance(value.get("alerts"), list):
        raise BodyError("alerts: required (an Alertmanager webhook notification, version 4)")
    common = {"receiver": value.get("receiver"), "groupKey": value.get("groupKey"),
              "externalURL": value.get("externalURL")}
    items = [_alert_item(alert, common) for alert in value["alerts"]]
    return _batch(items)


def _alert_item(alert: Any, common: dict[str, Any]) -> Any:
    if not isinstance(alert, dict):
        return alert  # normalise() rejects it as not an object
    raw_labels, raw_annotations = alert.get("labels"), alert.get("annotations")
    labels: dict[str, Any] = raw_labels if isinstance(raw_labels, dict) else {}
    annotations: dict[str, Any] = raw_annotations if isinstance(raw_annotations, dict) else {}
    host = labels.get("instance") or labels.get("host") or labels.get("hostname")
    if isinstance(host, str) and host.count(":") == 1:
        host = _PORT.sub("", host)  # "node1:9100" -> "node1"; IPv6 addresses keep their colons
    name = labels.get("alertname")
    summary = annotations.get("summary") or annotations.get("description") or alert.get("title")
    # firing and resolved: the same message, so the same alert (the resolved one clears it)
    message = ": ".join(str(part) for part in (name, summary) if part) or None
    item = {key: value for key, value in alert.items() if value is not None}
    item.update(
        hostname=host,
        message=message,
        timestamp=alert.get("startsAt"),
        source_type="alertmanager",
        labels=labels,
        annotations=annotations,
        **{key: value for key, value in common.items() if value is not None},
    )
    if labels.get("severity") is not None:
        item["severity"] = labels["severity"]
    return AlertmanagerItem(item, alert_key(alert.get("fingerprint"), labels), alert.get("status") == "resolved")


def alert_key(fingerprint: Any, labels: dict[str, Any]) -> str | None:
    """What identifies an Alertmanager alert across its notifications: its fingerprint (a hash of
    its labels), else a digest of the labels themselves; None when it has neither."""
    if isinstance(fingerprint, str) and _FINGERPRINT.match(fingerprint):
        return fingerprint
    if not labels:
        return None
    try:
        text = json.dumps(labels, sort_keys=True, ensure_ascii=True, default=str)
    except (TypeError, ValueError, RecursionError):
        return None
    return "labels-" + hashlib.sha256(text.encode()).hexdigest()[:16]


# --- one item -> one canonical event -----------------------------------------------------------

def syslog_severity(value: Any, names: dict[str, int] = SEVERITIES) -> int:
    """0-7 from an int, a digit string or a severity name in any case (ValueError otherwise)."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        if 0 <= value <= 7:
            return value
        raise ValueError
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isascii() and text.isdigit():  # "²".isdigit() is True, and int("٣") is 3
            return syslog_severity(int(text))
        return names[text]
    raise ValueError


def timestamp(value: Any) -> str:
    """ISO 8601 UTC from ISO 8601 / RFC 3339 (zone optional: none means UTC) or epoch seconds."""
    if isinstance(value, bool) or value is None:
        raise ValueError
    try:
        if isinstance(value, (int, float)):
            moment = _epoch(value)
        elif isinstance(value, str):
            # only short texts are cached: a key padded to the event size limit must not be kept
            return _cached_text_timestamp(value) if len(value) <= 64 else _text_timestamp(value)
        else:
            raise ValueError
        return _utc_iso(moment)
    except (OverflowError, OSError) as error:
        raise ValueError from error


def _text_timestamp(value: str) -> str:
    """``timestamp`` of a string."""
    text = value.strip()
    try:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            try:
                moment = _epoch(float(text))
            except ValueError:
                moment = datetime.fromisoformat(text.upper())  # RFC 3339 allows "t" and "z"
        return _utc_iso(moment)
    except (OverflowError, OSError) as error:
        raise ValueError from error


# The events of a burst (a syslog chunk, an NDJSON body) mostly share a handful of times, and
# reading one is a good part of normalising an event.
_cached_text_timestamp = functools.lru_cache(maxsize=4096)(_text_timestamp)


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _epoch(number: float) -> datetime:
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError
    if abs(number) >= EPOCH_MS_FROM:
        number = number / 1000.0
    return datetime.fromtimestamp(number, UTC)


def varbinds(value: Any) -> Any:
    """SNMP variables as [{"oid", "value"}, ...] from v2.5's "@{oid=...; value=...}" strings,
    {"oid", "value"} objects or an {oid: value} object; any other shape is kept as given."""
    if isinstance(value, dict):
        return [{"oid": str(oid).lstrip("."), "value": item} for oid, item in value.items()]
    if not isinstance(value, list):
        return value
    result = []
    for item in value:
        if isinstance(item, str):
            match = _PS_VARBIND.match(item.strip())
            if match is None:
                return value
            result.append({"oid": match["oid"].strip().lstrip("."), "value": match["value"]})
        elif isinstance(item, dict) and "oid" in item:
            result.append({"oid": str(item["oid"]).strip().lstrip("."), "value": item.get("value")})
        else:
            return value
    return result


def _trap_message(event: dict[str, Any]) -> str:
    text = f"SNMP trap {event['trap_oid']}"
    if event.get("source_ip"):
        text += f" from {event['source_ip']}"
    variables = event.get("variables")
    if isinstance(variables, list) and variables and isinstance(variables[0], dict):
        text += ": " + "; ".join(f"{item['oid']}={item['value']}" for item in variables)
    return text


def _sysname(variables: Any) -> Any:
    if isinstance(variables, list):
        for item in variables:
            if isinstance(item, dict) and item.get("oid") in (SYSNAME_OID, SYSNAME_OID[:-2]):
                return item.get("value")
    return None


def normalise(item: Any, stamp: Stamp) -> dict[str, Any]:
    """The canonical event for one item, or EventError naming the field at fault."""
    if isinstance(item, Invalid):
        raise EventError(item.error)
    if not isinstance(item, dict):
        kind = "null" if item is None else type(item).__name__
        raise EventError(f"event: a JSON {kind}, not an object")
    event = {key: value for key, value in item.items() if key[:1] != "_"}

    if "trap_oid" in event:
        oid = event["trap_oid"]
        if oid is None:
            del event["trap_oid"]
        else:
            oid = oid.strip().lstrip(".") if isinstance(oid, str) else oid
            if not isinstance(oid, str) or not _OID.match(oid):
                raise EventError(f"trap_oid: not a numeric OID: {_show(item['trap_oid'])}")
            event["trap_oid"] = oid
    if "variables" in event:
        event["variables"] = varbinds(event["variables"])

    hostname = event.get("hostname")
    if hostname is None and ("trap_oid" in event or "source_ip" in event):
        hostname = _sysname(event.get("variables")) or event.get("source_ip")
        event.setdefault("source_type", "snmp_trap")
    if hostname is None:
        raise EventError("hostname: required")
    if not isinstance(hostname, str) or not hostname.strip():
        raise EventError(f"hostname: must be a non-empty string, got {_show(hostname)}")
    if len(hostname) > MAX_HOSTNAME:
        raise EventError(f"hostname: longer than {MAX_HOSTNAME} characters")
    event["hostname"] = hostname.strip()

    message = event.get("message")
    if message is None and "trap_oid" in event:
        message = _trap_message(event)
    if message is None:
        raise EventError("message: required")
    if not isinstance(message, str):
        raise EventError(f"message: must be a string, got {_show(message)}")
    event["message"] = message

    if event.get("timestamp") is None:
        raise EventError("timestamp: required")
    try:
        event["timestamp"] = timestamp(event["timestamp"])
    except ValueError:
        raise EventError(f"timestamp: not a date/time (ISO 8601 or epoch seconds): {_show(event['timestamp'])}") from None

    if event.get("syslog_severity") is not None:
        try:
            event["syslog_severity"] = syslog_severity(event["syslog_severity"])
        except (ValueError, KeyError):
            raise EventError(
                f"syslog_severity: not a syslog severity (0-7 or a name such as 'warning'): {_show(event['syslog_severity'])}"
            ) from None
    else:
        event.pop("syslog_severity", None)
        if event.get("severity") is not None:
            try:
                event["syslog_severity"] = syslog_severity(event["severity"], SEVERITY_ALIASES)
            except (ValueError, KeyError):
                pass  # a free-text severity MUTT does not know stays as it is

    event.setdefault("source_type", "syslog")
    event["_id"] = ids.new_id()
    event["_correlation_id"] = stamp.correlation_id
    event["_received_at"] = stamp.received_at
    event["_source"] = stamp.source
    event["_key"] = stamp.key
    if isinstance(item, AlertmanagerItem):
        if item.key is not None:
            event[ALERT_KEY_FIELD] = item.key
        event[RESOLVED_FIELD] = item.resolved
    return event


def encode(event: dict[str, Any], max_bytes: int) -> str:
    """The canonical event as the JSON document that is queued (ASCII, so characters are bytes),
    or EventTooLarge when it is over ``max_bytes``."""
    document = _ENCODER.encode(event)
    if len(document) > max_bytes:
        raise EventTooLarge(f"event: {len(document)} bytes as JSON; at most {max_bytes} (max_event_bytes)")
    return document


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
