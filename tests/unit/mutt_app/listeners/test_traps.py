"""SNMP datagrams as net-snmp's snmptrap / snmpinform sent them (bytes captured from net-snmp 5.9),
decoded to ingest items and, through ingest's normalisation, to canonical trap events."""

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder
from pysnmp.proto import api

from mutt_app.ingest import events
from mutt_app.listeners import traps

RECEIVED = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)
PEER = "198.51.100.4"
PUBLIC = frozenset({"public"})
STAMP = events.Stamp("cid", RECEIVED.isoformat(), "snmp_trap", "lan")

# snmptrap -v 2c -c public HOST '' 1.3.6.1.6.3.1.1.5.3 1.3.6.1.2.1.2.2.1.1.2 i 2 \\
#   1.3.6.1.2.1.2.2.1.2.2 s GigabitEthernet0/2 1.3.6.1.2.1.1.5.0 s core-rtr-1
V2C_LINK_DOWN = bytes.fromhex(
    "30819102010104067075626c6963a7818302047efd84aa0201000201003075300f06082b060102010103004303033a4b"
    "3017060a2b06010603010104010006092b0601060301010503300f060a2b0601020102020101020201023020060a2b06"
    "010201020201020204124769676162697445746865726e6574302f32301606082b06010201010500040a636f72652d72"
    "74722d31"
)
# snmptrap -v 1 -c public HOST 1.3.6.1.4.1.9 192.0.2.7 2 0 '' 1.3.6.1.2.1.2.2.1.1.2 i 2
V1_LINK_DOWN = bytes.fromhex(
    "303902010004067075626c6963a42c06062b06010401094004c00002070201020201004303033a4e3011300f060a2b06"
    "0102010202010102020102"
)
# snmptrap -v 1 -c public HOST 1.3.6.1.4.1.9.9.41.2 192.0.2.7 6 1 12345 \\
#   1.3.6.1.4.1.9.9.41.1.2.3.1.5.1 s xé 1.3.6.1.2.1.4.20.1.1.1 a 10.0.0.1 1.3.6.1.2.1.1.3.0 t 100 \\
#   1.2.3 x ff00 1.2.4 c 5 1.2.5 o 1.3.6.1 1.2.6 u 7
V1_ENTERPRISE = bytes.fromhex(
    "30818b02010004067075626c6963a47e06092b06010401090929024004c0000207020106020101430230393061301506"
    "0e2b06010401090929010203010501040378c3a93012060a2b06010201041401010140040a000001300d06082b060102"
    "01010300430164300806022a030402ff00300706022a04410105300906022a0506032b0601300706022a06420107"
)
# snmpinform -v 2c -c public HOST '' 1.3.6.1.6.3.1.1.5.4 1.3.6.1.2.1.2.2.1.1.3 i 3
V2C_INFORM = bytes.fromhex(
    "305602010104067075626c6963a649020435592027020100020100303b300f06082b060102010103004303033a563017"
    "060a2b06010603010104010006092b0601060301010504300f060a2b060102010202010103020103"
)


def canonical(item):
    return events.normalise(item, STAMP)


def test_v2c_link_down_with_its_varbinds_typed_and_named_after_sysname():
    item = traps.parse(V2C_LINK_DOWN, PEER, RECEIVED, PUBLIC)
    assert item["trap_oid"] == "1.3.6.1.6.3.1.1.5.3"
    assert item["snmp_version"] == "2c" and item["source_ip"] == PEER
    assert item["varbinds"]["1.3.6.1.2.1.2.2.1.1.2"] == {"type": "Integer", "value": 2}
    assert item["varbinds"]["1.3.6.1.2.1.2.2.1.2.2"] == {"type": "OctetString", "value": "GigabitEthernet0/2"}
    assert item["varbinds"][traps.SYS_UPTIME]["type"] == "TimeTicks"
    assert "community" not in str(item) and "public" not in str(item)
    event = canonical(item)
    assert event["hostname"] == "core-rtr-1"  # sysName.0
    assert event["source_type"] == "snmp_trap" and event["timestamp"] == RECEIVED.isoformat()
    assert event["message"] == ("SNMP trap 1.3.6.1.6.3.1.1.5.3 from 198.51.100.4: 1.3.6.1.2.1.2.2.1.1.2=2; "
                                "1.3.6.1.2.1.2.2.1.2.2=GigabitEthernet0/2; 1.3.6.1.2.1.1.5.0=core-rtr-1")


def test_v1_generic_trap_becomes_its_v2_oid_and_the_agent_address_its_source():
    item = traps.parse(V1_LINK_DOWN, PEER, RECEIVED, PUBLIC)
    assert item["trap_oid"] == "1.3.6.1.6.3.1.1.5.3"  # linkDown: generic 2 -> snmpTraps.3 (RFC 3584)
    assert item["source_ip"] == "192.0.2.7" and item["peer_ip"] == PEER
    assert (item["enterprise"], item["generic_trap"], item["specific_trap"]) == ("1.3.6.1.4.1.9", 2, 0)
    assert item["varbinds"][traps.SNMP_TRAP_ADDRESS] == {"type": "IpAddress", "value": "192.0.2.7"}
    assert canonical(item)["hostname"] == "192.0.2.7"


def test_v1_enterprise_specific_trap_and_every_value_type():
    item = traps.parse(V1_ENTERPRISE, PEER, RECEIVED, PUBLIC)
    assert item["trap_oid"] == "1.3.6.1.4.1.9.9.41.2.0.1"  # enterprise.0.specific
    varbinds = item["varbinds"]
    assert varbinds["1.3.6.1.4.1.9.9.41.1.2.3.1.5.1"] == {"type": "OctetString", "value": "x\u00e9"}
    assert varbinds["1.3.6.1.2.1.4.20.1.1.1"] == {"type": "IpAddress", "value": "10.0.0.1"}
    assert varbinds["1.2.3"] == {"type": "OctetString", "value": "0xff00"}  # binary: hex, as net-snmp shows it
    assert varbinds["1.2.4"] == {"type": "Counter32", "value": 5}
    assert varbinds["1.2.5"] == {"type": "ObjectIdentifier", "value": "1.3.6.1"}
    assert varbinds["1.2.6"] == {"type": "Gauge32", "value": 7}
    events.encode(canonical(item), 65536)


def test_an_inform_is_answered_with_a_response_carrying_its_request_id_and_varbinds():
    answered = traps.parse(V2C_INFORM, PEER, RECEIVED, PUBLIC)
    assert isinstance(answered, traps.Answered)
    assert answered.item["trap_oid"] == "1.3.6.1.6.3.1.1.5.4" and answered.item["inform"] is True
    module = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    request, _ = decoder.decode(V2C_INFORM, asn1Spec=module.Message())
    response, _ = decoder.decode(answered.answer, asn1Spec=module.Message())
    pdu = module.apiMessage.get_pdu(response)
    assert pdu.isSameTypeWith(module.ResponsePDU())
    assert module.apiPDU.get_request_id(pdu) == module.apiPDU.get_request_id(module.apiMessage.get_pdu(request))
    assert int(module.apiPDU.get_error_status(pdu)) == 0
    assert len(module.apiPDU.get_varbinds(pdu)) == 3


@pytest.mark.parametrize("raw", [V2C_LINK_DOWN, V1_LINK_DOWN, V1_ENTERPRISE, V2C_INFORM])
def test_the_varbinds_read_are_the_ones_pysnmp_reads(raw):
    """pysnmp (pyasn1's BER decoder) as the oracle for MUTT's own reader."""
    version = int(api.decodeMessageVersion(raw))
    module = api.PROTOCOL_MODULES[version]
    message, _ = decoder.decode(raw, asn1Spec=module.Message())
    pdu = module.apiMessage.get_pdu(message)
    reference = (module.apiTrapPDU if version == api.SNMP_VERSION_1 else module.apiPDU).get_varbinds(pdu)
    item = traps.parse(raw, PEER, RECEIVED, PUBLIC)
    item = item.item if isinstance(item, traps.Answered) else item
    for oid, value in reference:
        read = item["varbinds"][str(oid)]["value"]
        if hasattr(value, "asOctets") and not hasattr(value, "asNumbers") or value.__class__.__name__ == "OctetString":
            octets = value.asOctets()
            assert read in (octets.decode("utf-8", "replace"), "0x" + octets.hex())
        elif value.__class__.__name__ in ("IpAddress", "NetworkAddress"):
            assert read == ".".join(str(octet) for octet in value.asOctets())
        elif hasattr(value, "asTuple"):
            assert read == str(value)
        else:
            assert read == int(value)
    if version == api.SNMP_VERSION_1:
        assert item["enterprise"] == str(module.apiTrapPDU.get_enterprise(pdu))
        assert item["specific_trap"] == int(module.apiTrapPDU.get_specific_trap(pdu))


def test_a_community_not_allowed_is_denied():
    assert traps.parse(V2C_LINK_DOWN, PEER, RECEIVED, frozenset({"secret"})) is traps.DENIED
    assert traps.parse(V2C_INFORM, PEER, RECEIVED, frozenset({"secret"})) is traps.DENIED


def test_what_is_not_snmp_is_invalid_with_its_bytes():
    item = traps.parse(b"\x30\x03garbage", PEER, RECEIVED, PUBLIC)
    assert isinstance(item, events.Invalid) and item.error.startswith("snmp: not a readable")
    assert base64.b64decode(item.raw["raw_base64"]) == b"\x30\x03garbage"
    get = bytes.fromhex("302602010104067075626c6963a01902046b8b4567020100020100300b300906052b060102010500")
    assert traps.parse(get, PEER, RECEIVED, PUBLIC).error == "snmp: a v2c GetRequest, not a trap or an INFORM"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200),
                 st.builds(lambda cut, flip: bytes(b ^ (0xFF if i == flip else 0) for i, b in enumerate(V2C_LINK_DOWN[:cut])),
                           st.integers(0, len(V2C_LINK_DOWN)), st.integers(0, len(V2C_LINK_DOWN)))))
def test_no_datagram_raises(raw):
    item = traps.parse(raw, PEER, RECEIVED, PUBLIC)
    if isinstance(item, traps.Answered):
        item = item.item
    if isinstance(item, dict):
        events.encode(canonical(item), 1 << 20)
