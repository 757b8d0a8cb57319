"""One syslog message (the bytes of a datagram or a TCP frame) -> an ingest item.

Pure functions: no sockets, no Redis. ``parse`` reads RFC 5424 and RFC 3164 (BSD) messages and
what real devices send instead (Cisco IOS sequence numbers and ``*``/``.`` timestamp prefixes,
NX-OS's year-first timestamps, no hostname, no tag) and returns the item HTTP ingest would have
received for it: ``events.normalise`` (through ``Ingest.read``) makes it the canonical event. A
message without a readable ``<PRI>`` is an ``events.Invalid`` carrying the raw message, so that it
becomes a dead letter, never silently nothing.

Bytes that are not UTF-8 are kept, as ``\\xNN`` escapes in the text (PostgreSQL and JSON cannot
hold them raw); the item then also carries ``raw_base64``, the message's exact bytes.
"""

from __future__ import annotations

import base64
import functools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from mutt_app.ingest import events

FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
              "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
              "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7")
MAX_PRI = len(FACILITIES) * 8 - 1  # 191
NIL = "-"
BOM = "\ufeff"
FUTURE_TOLERANCE = timedelta(days=2)  # device clocks ahead, local time zones east of UTC

_PRI = re.compile(r"<(\d{1,3})>")
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
# RFC 3164 "Mmm dd hh:mm:ss", with what devices add: Cisco's "*" (clock not set) or "." (clock
# not synchronised) prefix, fractions of a second, a year ("Mmm dd yyyy hh:mm:ss", or NX-OS's
# "yyyy Mmm dd hh:mm:ss") and a zone name or offset after it.
# A zone other than UTC/GMT/an offset is a word right before a colon ("... 00:07:29.111 CET: %SYS"),
# so that a hostname after the time is not taken for one.
_BSD_TIME = re.compile(
    r"[*.]?(?:(?P<year1>\d{4}) )?(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(?P<day>\d{1,2})"
    r"(?: (?P<year2>\d{4}))? (?P<time>\d{1,2}:\d{2}:\d{2})(?P<fraction>\.\d{1,9})?"
    r"(?: (?P<zone>UTC|GMT|[+-]\d{2}:?\d{2})| (?P<zonename>[A-Za-z]{3,5})(?=:))?:?(?: +|$)")
_CISCO_SEQUENCE = re.compile(r"(\d*): +")  # "<189>123: ..." (service sequence-numbers), NX-OS "<189>: ..."
_CISCO_ORIGIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,254}): +")  # logging origin-id hostname
# The TAG: a program name (not a bare number: that is a Cisco sequence number) and [procid].
_TAG = re.compile(r"(?!\d+[:\[])(?P<program>[^\s:\[\]%]{1,64})(?:\[(?P<procid>[^\]\s]{1,128})\])?:(?: |$)")
_HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:%-]{0,254}")
_SD_ELEMENT = re.compile(r'\[(?P<id>[^\s=\]"]{1,32})(?P<params>(?: [^\s=\]"]{1,32}="(?:[^"\\]|\\.)*")*) ?\]', re.S)
_SD_PARAM = re.compile(r'([^\s=\]"]{1,32})="((?:[^"\\]|\\.)*)"', re.S)
_SD_ESCAPE = re.compile(r'\\([\\"\]])')
_5424_HEADER = re.compile(r"1 (?P<timestamp>\S+) (?P<hostname>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) ?")


def text_of(raw: bytes) -> tuple[str, bool]:
    """``raw`` as text, and whether it was valid UTF-8 (if not, each bad byte is a ``\\xNN``)."""
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), False


def parse(raw: bytes, peer: str, received: datetime | None = None) -> dict[str, Any] | events.Invalid:
    """The ingest item for one syslog message from ``peer`` (its address), or ``events.Invalid``.

    ``received`` (default now) dates messages that carry no usable time, and gives an RFC 3164
    timestamp, which has none, its year.
    """
    received = received or datetime.now(UTC)
    text, utf8 = text_of(raw)
    text = text.rstrip("\r\n\x00").replace("\x00", "\ufffd")
    match = _PRI.match(text)
    if match is None or int(match[1]) > MAX_PRI:
        reason = "no <PRI> at the start" if match is None else f"<PRI> {match[1]} is over {MAX_PRI}"
        return events.Invalid(_raw_payload(raw, text, utf8, peer), f"syslog: not a syslog message ({reason})")
    pri = int(match[1])
    rest = text[match.end():]
    item: dict[str, Any] = {
        "syslog_severity": pri % 8,
        "facility": FACILITIES[pri // 8],
        "source_ip": peer,
        "source_type": "syslog",
    }
    header = _5424_HEADER.match(rest)
    if header is not None and _rfc5424(header, rest, item):
        item["syslog_format"] = "rfc5424"
    else:
        _rfc3164(rest, item, received)
        item["syslog_format"] = "rfc3164"
    if not item.get("hostname"):
        item["hostname"] = peer
    if "timestamp" not in item:
        item["timestamp"] = received.isoformat()
    if not utf8:
        item["raw_base64"] = base64.b64encode(raw).decode("ascii")
    return item


def _raw_payload(raw: bytes, text: str, utf8: bool, peer: str) -> dict[str, Any]:
    payload = {"raw": text, "source_ip": peer, "source_type": "syslog"}
    if not utf8:
        payload["raw_base64"] = base64.b64encode(raw).decode("ascii")
    return payload


# --- RFC 5424 --------------------------------------------------------------------------------

def _rfc5424(header: re.Match[str], rest: str, item: dict[str, Any]) -> bool:
    """Fill ``item`` from an RFC 5424 message; False (``item`` untouched) if it is not one after all."""
    stamp = header["timestamp"]
    moment = None
    if stamp != NIL:
        try:
            moment = events.timestamp(stamp)
        except ValueError:
            return False
    body = rest[header.end():]
    structured: dict[str, dict[str, str]] = {}
    if body.startswith(NIL) and (len(body) == 1 or body[1] == " "):
        body = body[2:]
    elif body.startswith("["):
        position = 0
        while True:
            element = _SD_ELEMENT.match(body, position)
            if element is None:
                break
            params = {name: _SD_ESCAPE.sub(r"\1", value) for name, value in _SD_PARAM.findall(element["params"])}
            structured.setdefault(element["id"], {}).update(params)
            position = element.end()
        if position == 0:
            return False
        body = body[position:].removeprefix(" ")
    if moment is not None:
        item["timestamp"] = moment
    for field, value in (("hostname", header["hostname"]), ("program", header["app"]),
                         ("procid", header["procid"]), ("msgid", header["msgid"])):
        if value != NIL:
            item[field] = value
    if structured:
        item["structured_data"] = structured
    item["message"] = body.removeprefix(BOM)
    return True


# --- RFC 3164 and what devices send -----------------------------------------------------------

def _rfc3164(rest: str, item: dict[str, Any], received: datetime) -> None:
    cisco = _CISCO_SEQUENCE.match(rest)
    if cisco is not None:  # "<189>52: *Mar  1 ...", "<189>52: router1: *Mar  1 ...", NX-OS "<189>: 2024 ..."
        if cisco[1]:
            item["sequence"] = int(cisco[1][-18:])
        rest = rest[cisco.end():]
        origin = _CISCO_ORIGIN.match(rest)
        if origin is not None and _BSD_TIME.match(rest, origin.end()) is not None:
            item["hostname"] = origin[1]
            rest = rest[origin.end():]
    stamp = _BSD_TIME.match(rest)
    if stamp is not None:
        moment = _bsd_time(stamp, received)
        if moment is not None:
            item["timestamp"] = moment
        if stamp[0][0] in "*.":
            item["clock_unsynchronised"] = True
        if stamp["zonename"] and stamp["zonename"].upper() not in ("UTC", "GMT"):
            item["timezone"] = stamp["zonename"]  # a zone name is ambiguous (CST): the time is read as UTC
        rest = rest[stamp.end():]
    if cisco is None and not rest.startswith("%"):
        rest = _hostname(rest, item)
    tag = _TAG.match(rest)
    if tag is not None:
        item["program"] = tag["program"]
        if tag["procid"] is not None:
            item["procid"] = tag["procid"]
        rest = rest[tag.end():]
    item["message"] = rest


def _hostname(rest: str, item: dict[str, Any]) -> str:
    """Take the HOSTNAME field from ``rest`` when there is one: a word that is not the tag
    (``prog:``, ``prog[pid]:``) nor a Cisco ``%FACILITY-N-MNEMONIC``."""
    word, _, after = rest.partition(" ")
    if after and _HOSTNAME.fullmatch(word) and not word.endswith(":") and _TAG.match(rest) is None:
        item["hostname"] = word
        return after
    return rest


def _bsd_time(stamp: re.Match[str], received: datetime) -> str | None:
    """The RFC 3164 time as ISO 8601 UTC: no zone (or a zone name) means UTC; no year: the latest
    year that does not put it more than FUTURE_TOLERANCE after ``received`` (a "Dec 31" received on
    1 January is last year's)."""
    return _bsd_moment(stamp["year1"] or stamp["year2"], stamp["month"], stamp["day"], stamp["time"],
                       stamp["fraction"], stamp["zone"], received)


@functools.lru_cache(maxsize=1024)
def _bsd_moment(year: str | None, month_name: str, day_text: str, time_text: str, fraction: str | None,
                zone: str | None, received: datetime) -> str | None:
    """``_bsd_time``, cached: the lines of one TCP read share ``received``, and mostly their time."""
    try:
        hour, minute, second = (int(part) for part in time_text.split(":"))
        micro = int((fraction or ".0")[1:].ljust(6, "0")[:6])
        zone = zone or ""
        offset = timedelta(0)
        if zone[:1] in ("+", "-"):
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            offset = -offset if zone[0] == "-" else offset
        month, day = _MONTHS[month_name.capitalize()], int(day_text)
        moment: datetime | None = None
        if year:
            moment = datetime(int(year), month, day, hour, minute, second, micro, UTC) - offset
        else:
            for candidate_year in (received.year + 1, received.year, received.year - 1):
                try:
                    candidate = datetime(candidate_year, month, day, hour, minute, second, micro, UTC) - offset
                except ValueError:  # 29 February of a year that has none
                    continue
                if candidate <= received + FUTURE_TOLERANCE:
                    moment = candidate
                    break
        return moment.isoformat() if moment is not None else None
    except (ValueError, OverflowError):
        return None
