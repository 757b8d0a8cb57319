"""One SNMP datagram (v1 or v2c trap, v2c INFORM) -> an ingest item, and the INFORM's answer.

The item is what HTTP ingest reads for a trap (``trap_oid``, ``source_ip``, ``variables``;
``events.normalise`` names the host from sysName.0 or the address and builds the message), plus
``varbinds`` as ``{oid: {"type", "value"}}``. A v1 trap gets its v2 OID per RFC 3584 §3.1. A
datagram that is not SNMP, or not a trap, is an ``events.Invalid`` with its bytes (base64); a
community not in the allow-list is ``DENIED`` (dropped and counted, never stored).

The BER is read here, by a small reader of the few types SNMPv1/v2c messages use, not by pysnmp:
pysnmp's decoder (pyasn1) took 2 ms a trap on this machine, ten times what 5,000 traps/s allows
(docs/performance.md). The tests check this reader against pysnmp's on real and random datagrams.
An INFORM is answered by a Response-PDU with its request-id and varbinds (RFC 3416 §4.2.7), sent
by the listener only once the trap's event is queued.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mutt_app.ingest import events

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"
SNMP_TRAP_ENTERPRISE = "1.3.6.1.6.3.1.1.4.3.0"
GENERIC_TRAPS = "1.3.6.1.6.3.1.1.5"  # coldStart .1 ... authenticationFailure .5, egpNeighborLoss .6
ENTERPRISE_SPECIFIC = 6
VERSIONS = {0: "1", 1: "2c"}

# BER tags
SEQUENCE, INTEGER, OCTET_STRING, NULL, OID = 0x30, 0x02, 0x04, 0x05, 0x06
V1_TRAP, RESPONSE, INFORM, V2_TRAP = 0xA4, 0xA2, 0xA6, 0xA7
APPLICATION = {0x40: "IpAddress", 0x41: "Counter32", 0x42: "Gauge32", 0x43: "TimeTicks", 0x44: "Opaque",
               0x46: "Counter64"}
EXCEPTIONS = {0x80: "NoSuchObject", 0x81: "NoSuchInstance", 0x82: "EndOfMibView"}
UNIVERSAL = {INTEGER: "Integer", OCTET_STRING: "OctetString", NULL: "Null", OID: "ObjectIdentifier"}
PDU_NAMES = {0xA0: "GetRequest", 0xA1: "GetNextRequest", RESPONSE: "Response", 0xA3: "SetRequest",
             0xA5: "GetBulkRequest", 0xA8: "Report"}

Element = tuple[int, int, int]  # a BER element: (tag, start of its value, end of its value)

DENIED = object()  # the community is not allowed: drop and count, answer nothing


class BerError(ValueError):
    """Not the BER of an SNMP message."""


@dataclass(frozen=True)
class Answered:
    """A trap item whose sender waits for an answer (an INFORM): send ``answer`` once it is queued."""

    item: dict[str, Any]
    answer: bytes


def _tlv(data: bytes, position: int, end: int) -> Element:
    """(tag, start of the value, end of the value) of the element at ``position``."""
    if position + 2 > end:
        raise BerError("truncated")
    tag, length = data[position], data[position + 1]
    position += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or position + count > end:
            raise BerError("bad length")
        length = int.from_bytes(data[position:position + count], "big")
        position += count
    if position + length > end:
        raise BerError("truncated")
    return tag, position, position + length


def _elements(data: bytes, start: int, end: int) -> list[Element]:
    elements = []
    while start < end:
        element = _tlv(data, start, end)
        elements.append(element)
        start = element[2]
    return elements


def _integer(data: bytes, start: int, end: int) -> int:
    if start == end:
        raise BerError("empty integer")
    return int.from_bytes(data[start:end], "big", signed=True)


def _unsigned(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start:end], "big", signed=False)


def _oid(data: bytes, start: int, end: int) -> str:
    if start == end:
        raise BerError("empty OID")
    parts, value = [], 0
    for byte in data[start:end]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    if data[end - 1] & 0x80:
        raise BerError("OID cut short")
    first = parts[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(part) for part in head + parts[1:])


def _value(data: bytes, tag: int, start: int, end: int) -> tuple[str, Any]:
    """A varbind's value as (its SMI type name, a JSON value)."""
    if tag == INTEGER:
        return "Integer", _integer(data, start, end)
    if tag == OCTET_STRING:
        return "OctetString", _text(data[start:end])
    if tag == NULL:
        return "Null", None
    if tag == OID:
        return "ObjectIdentifier", _oid(data, start, end)
    if tag == 0x40:
        if end - start != 4:
            raise BerError("IpAddress not 4 octets")
        return "IpAddress", ".".join(str(octet) for octet in data[start:end])
    if tag == 0x44:
        return "Opaque", data[start:end].hex()
    if tag in APPLICATION:
        return APPLICATION[tag], _unsigned(data, start, end)
    if tag in EXCEPTIONS:
        return EXCEPTIONS[tag], None
    raise BerError(f"unknown value tag 0x{tag:02x}")


def _text(octets: bytes) -> str:
    """An OCTET STRING as text when it is printable UTF-8, else ``0x`` and hex (a MAC address, an
    index), as net-snmp shows it."""
    try:
        text = octets.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + octets.hex()
    if all(char.isprintable() or char in "\r\n\t" for char in text):
        return text
    return "0x" + octets.hex()


def _varbinds(data: bytes, start: int, end: int) -> dict[str, dict[str, Any]]:
    result = {}
    for tag, begin, finish in _elements(data, start, end):
        if tag != SEQUENCE:
            raise BerError("a varbind is not a SEQUENCE")
        parts = _elements(data, begin, finish)
        if len(parts) != 2 or parts[0][0] != OID:
            raise BerError("a varbind is not (OID, value)")
        kind, value = _value(data, *parts[1])
        result[_oid(data, parts[0][1], parts[0][2])] = {"type": kind, "value": value}
    return result


def parse(raw: bytes, peer: str, received: datetime, communities: frozenset[str]) -> Any:
    """The ingest item for one datagram: a dict, ``Answered`` (an INFORM), ``events.Invalid`` or ``DENIED``."""
    try:
        tag, start, end = _tlv(raw, 0, len(raw))
        if tag != SEQUENCE:
            raise BerError("not a SEQUENCE")
        parts = _elements(raw, start, end)
        if len(parts) != 3 or parts[0][0] != INTEGER or parts[1][0] != OCTET_STRING:
            raise BerError("not (version, community, PDU)")
        version = _integer(raw, parts[0][1], parts[0][2])
        if version not in VERSIONS:
            return _invalid(raw, peer, f"snmp: version {version + 1 if version >= 0 else version} is not v1 or v2c")
        community = raw[parts[1][1]:parts[1][2]].decode("utf-8", "backslashreplace")
        if community not in communities:
            return DENIED
        pdu_tag, pdu_start, pdu_end = parts[2]
        if version == 0 and pdu_tag == V1_TRAP:
            return _v1_trap(raw, pdu_start, pdu_end, peer, received)
        if version == 1 and pdu_tag in (V2_TRAP, INFORM):
            fields = _elements(raw, pdu_start, pdu_end)
            if len(fields) != 4 or fields[3][0] != SEQUENCE:
                raise BerError("not (request-id, error-status, error-index, varbinds)")
            item = _v2_trap(_varbinds(raw, fields[3][1], fields[3][2]), peer, received)
            if pdu_tag == V2_TRAP or isinstance(item, events.Invalid):
                return item
            item["inform"] = True
            return Answered(item, _inform_answer(raw, parts, fields))
        name = PDU_NAMES.get(pdu_tag, f"PDU 0x{pdu_tag:02x}")
        return _invalid(raw, peer, f"snmp: a v{VERSIONS[version]} {name}, not a trap or an INFORM")
    except (BerError, IndexError) as error:
        return _invalid(raw, peer, f"snmp: not a readable SNMPv1/v2c message ({error or 'truncated'})")


def _invalid(raw: bytes, peer: str, error: str) -> events.Invalid:
    return events.Invalid({"raw_base64": base64.b64encode(raw).decode("ascii"), "source_ip": peer,
                           "source_type": "snmp_trap"}, error)


def _encode(tag: int, value: bytes) -> bytes:
    length = len(value)
    if length < 0x80:
        return bytes((tag, length)) + value
    size = (length.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + length.to_bytes(size, "big") + value


def _inform_answer(raw: bytes, message: list[Element], fields: list[Element]) -> bytes:
    """The Response-PDU for an INFORM: its request-id, no error, its varbinds (RFC 3416 §4.2.7)."""
    def whole(element: Element) -> bytes:  # the element's bytes, header included
        tag, start, end = element
        return _encode(tag, raw[start:end])

    no_error = _encode(INTEGER, b"\x00")
    pdu = _encode(RESPONSE, whole(fields[0]) + no_error + no_error + whole(fields[3]))
    return _encode(SEQUENCE, whole(message[0]) + whole(message[1]) + pdu)


def _v2_trap(typed: dict[str, Any], peer: str, received: datetime) -> dict[str, Any] | events.Invalid:
    trap_oid = typed.get(SNMP_TRAP_OID, {}).get("value")
    if typed.get(SNMP_TRAP_OID, {}).get("type") != "ObjectIdentifier":
        return events.Invalid({"varbinds": typed, "source_ip": peer, "source_type": "snmp_trap"},
                              "snmp: no snmpTrapOID.0 varbind")
    source = typed.get(SNMP_TRAP_ADDRESS, {}).get("value")
    return _item(trap_oid, source if isinstance(source, str) else peer, peer, "2c", typed, received)


def _v1_trap(raw: bytes, start: int, end: int, peer: str, received: datetime) -> dict[str, Any]:
    fields = _elements(raw, start, end)
    if len(fields) != 6 or fields[0][0] != OID or fields[1][0] != 0x40 or fields[5][0] != SEQUENCE:
        raise BerError("not (enterprise, agent-addr, generic, specific, time-stamp, varbinds)")
    enterprise = _oid(raw, fields[0][1], fields[0][2])
    agent = _value(raw, *fields[1])[1]
    generic, specific = _integer(raw, fields[2][1], fields[2][2]), _integer(raw, fields[3][1], fields[3][2])
    uptime = _unsigned(raw, fields[4][1], fields[4][2])
    trap_oid = f"{enterprise}.0.{specific}" if generic == ENTERPRISE_SPECIFIC else f"{GENERIC_TRAPS}.{generic + 1}"
    typed = {SYS_UPTIME: {"type": "TimeTicks", "value": uptime},
             SNMP_TRAP_OID: {"type": "ObjectIdentifier", "value": trap_oid},
             **_varbinds(raw, fields[5][1], fields[5][2]),
             SNMP_TRAP_ADDRESS: {"type": "IpAddress", "value": agent},
             SNMP_TRAP_ENTERPRISE: {"type": "ObjectIdentifier", "value": enterprise}}  # RFC 3584 §3.1
    item = _item(trap_oid, agent, peer, "1", typed, received)
    item.update(enterprise=enterprise, generic_trap=generic, specific_trap=specific)
    return item


def _item(trap_oid: str, source: str, peer: str, version: str, typed: dict[str, Any], received: datetime) -> dict[str, Any]:
    return {
        "trap_oid": trap_oid,
        "source_ip": source,
        "peer_ip": peer,
        "snmp_version": version,
        "timestamp": received.isoformat(),
        "source_type": "snmp_trap",
        # the varbinds after sysUpTime.0 and snmpTrapOID.0, as HTTP senders send them
        "variables": [{"oid": oid, "value": entry["value"]} for oid, entry in typed.items()
                      if oid not in (SYS_UPTIME, SNMP_TRAP_OID)],
        "varbinds": typed,
    }
