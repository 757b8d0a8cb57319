"""One SNMP datagram (v1 or v2c trap, v2c INFORM) -> an ingest item, and the INFORM's answer.

Decoded with pysnmp's protocol API (BER through pyasn1), no SNMP engine: the listener decides
when an INFORM is acknowledged (once its event is queued), which an engine that answers on
receipt would not let it. The item is what HTTP ingest reads for a trap (``trap_oid``,
``source_ip``, ``variables``; ``events.normalise`` names the host from sysName.0 or the address and
builds the message), plus ``varbinds`` as ``{oid: {"type", "value"}}``. A v1 trap gets its v2 OID
per RFC 3584 §3.1. A datagram that is not SNMP, or not a trap, is an ``events.Invalid`` with its
bytes (base64); a community not in the allow-list is ``DENIED`` (dropped and counted, never stored).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api
from pysnmp.proto.error import ProtocolError

from mutt_app.ingest import events

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"
SNMP_TRAP_ENTERPRISE = "1.3.6.1.6.3.1.1.4.3.0"
GENERIC_TRAPS = "1.3.6.1.6.3.1.1.5"  # coldStart .1 ... authenticationFailure .5, egpNeighborLoss .6
ENTERPRISE_SPECIFIC = 6
VERSIONS = {api.SNMP_VERSION_1: "1", api.SNMP_VERSION_2C: "2c"}

DENIED = object()  # the community is not allowed: drop and count, answer nothing


@dataclass(frozen=True)
class Answered:
    """A trap item whose sender waits for an answer (an INFORM): send ``answer`` once it is queued."""

    item: dict
    answer: bytes


def parse(raw: bytes, peer: str, received: datetime, communities: frozenset[str]) -> Any:
    """The ingest item for one datagram: a dict, ``Answered`` (an INFORM), ``events.Invalid`` or ``DENIED``."""
    try:
        version = int(api.decodeMessageVersion(raw))
        module = api.PROTOCOL_MODULES[version]
        message, _ = decoder.decode(raw, asn1Spec=module.Message())
        community = bytes(module.apiMessage.get_community(message)).decode("utf-8", "backslashreplace")
        if community not in communities:
            return DENIED
        pdu = module.apiMessage.get_pdu(message)
        if version == api.SNMP_VERSION_1 and pdu.isSameTypeWith(module.TrapPDU()):
            return _v1_trap(module, pdu, peer, received)
        if version == api.SNMP_VERSION_2C and pdu.isSameTypeWith(module.SNMPv2TrapPDU()):
            return _v2_trap(module.apiPDU.get_varbinds(pdu), peer, received)
        if version == api.SNMP_VERSION_2C and pdu.isSameTypeWith(module.InformRequestPDU()):
            item = _v2_trap(module.apiPDU.get_varbinds(pdu), peer, received)
            if isinstance(item, events.Invalid):
                return item
            item["inform"] = True
            return Answered(item, _inform_answer(module, message, pdu))
        return _invalid(raw, peer, f"snmp: a {pdu.__class__.__name__}, not a trap or an INFORM")
    except (PyAsn1Error, ProtocolError, KeyError, ValueError, TypeError) as error:
        return _invalid(raw, peer, f"snmp: not a readable SNMPv1/v2c message ({type(error).__name__})")


def _invalid(raw: bytes, peer: str, error: str) -> events.Invalid:
    return events.Invalid({"raw_base64": base64.b64encode(raw).decode("ascii"), "source_ip": peer,
                           "source_type": "snmp_trap"}, error)


def _inform_answer(module, message, pdu) -> bytes:
    response = module.apiMessage.get_response(message)
    answer_pdu = module.apiPDU.get_response(pdu)
    module.apiPDU.set_varbinds(answer_pdu, module.apiPDU.get_varbinds(pdu))  # RFC 3416 §4.2.7: the same varbinds
    module.apiMessage.set_pdu(response, answer_pdu)
    return encoder.encode(response)


def _v2_trap(varbinds, peer: str, received: datetime) -> dict | events.Invalid:
    typed = _typed(varbinds)
    trap_oid = typed.get(SNMP_TRAP_OID, {}).get("value")
    if not isinstance(trap_oid, str):
        return events.Invalid({"varbinds": typed, "source_ip": peer, "source_type": "snmp_trap"},
                              "snmp: no snmpTrapOID.0 varbind")
    source = typed.get(SNMP_TRAP_ADDRESS, {}).get("value")
    return _item(trap_oid, source if isinstance(source, str) else peer, peer, "2c", typed, received)


def _v1_trap(module, pdu, peer: str, received: datetime) -> dict:
    trap = module.apiTrapPDU
    enterprise = ".".join(str(part) for part in trap.get_enterprise(pdu))
    generic, specific = int(trap.get_generic_trap(pdu)), int(trap.get_specific_trap(pdu))
    agent = _value(trap.get_agent_address(pdu))[1]
    if generic == ENTERPRISE_SPECIFIC:
        trap_oid = f"{enterprise}.0.{specific}"
    else:
        trap_oid = f"{GENERIC_TRAPS}.{generic + 1}"
    typed = {SYS_UPTIME: {"type": "TimeTicks", "value": int(trap.get_timestamp(pdu))},
             SNMP_TRAP_OID: {"type": "ObjectIdentifier", "value": trap_oid},
             **_typed(trap.get_varbinds(pdu)),
             SNMP_TRAP_ADDRESS: {"type": "IpAddress", "value": agent},
             SNMP_TRAP_ENTERPRISE: {"type": "ObjectIdentifier", "value": enterprise}}  # RFC 3584 §3.1
    item = _item(trap_oid, agent or peer, peer, "1", typed, received)
    item.update(enterprise=enterprise, generic_trap=generic, specific_trap=specific)
    return item


def _item(trap_oid: str, source: str, peer: str, version: str, typed: dict, received: datetime) -> dict:
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


def _typed(varbinds) -> dict[str, dict[str, Any]]:
    result = {}
    for oid, value in varbinds:
        kind, plain = _value(value)
        result[".".join(str(part) for part in oid)] = {"type": kind, "value": plain}
    return result


def _value(value) -> tuple[str, Any]:
    """A varbind's value as (its SMI type name, a JSON value)."""
    if hasattr(value, "getComponent") and not hasattr(value, "asOctets") and not hasattr(value, "asTuple"):
        try:  # a CHOICE (v1's ObjectSyntax, NetworkAddress): what it holds
            return _value(value.getComponent(innerFlag=True))
        except (PyAsn1Error, AttributeError):
            pass
    kind = value.__class__.__name__
    if kind in ("Null", "NoSuchObject", "NoSuchInstance", "EndOfMibView"):
        return kind, None
    if kind in ("IpAddress", "NetworkAddress"):
        return "IpAddress", ".".join(str(octet) for octet in value.asOctets())
    if hasattr(value, "asTuple"):
        return "ObjectIdentifier", ".".join(str(part) for part in value.asTuple())
    if hasattr(value, "asOctets"):
        octets = value.asOctets()
        if kind in ("Opaque", "Bits"):
            return kind, octets.hex()
        try:
            text = octets.decode("utf-8")
            if text.isprintable() or all(char.isprintable() or char in "\r\n\t" for char in text):
                return kind, text
        except UnicodeDecodeError:
            pass
        return kind, "0x" + octets.hex()  # binary (a MAC address, an index): as net-snmp shows it
    return kind, int(value)
