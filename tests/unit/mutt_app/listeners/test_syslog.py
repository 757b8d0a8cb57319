"""Syslog parsing, from RFC examples and what real devices send, through ingest's normalisation."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mutt_app.ingest import events
from mutt_app.listeners import syslog

RECEIVED = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)
PEER = "192.0.2.9"
STAMP = events.Stamp("cid", RECEIVED.isoformat(), "syslog", "lan")


def parse(raw: bytes) -> dict:
    item = syslog.parse(raw, PEER, RECEIVED)
    assert not isinstance(item, events.Invalid), item
    return item


def canonical(raw: bytes) -> dict:
    return events.normalise(parse(raw), STAMP)


# --- RFC 5424 ----------------------------------------------------------------------------------

def test_rfc5424_example_1_with_a_bom_and_no_structured_data():
    event = canonical(b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                      b"\xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8")
    assert event["hostname"] == "mymachine.example.com"
    assert event["program"] == "su"
    assert "procid" not in event
    assert event["msgid"] == "ID47"
    assert event["message"] == "'su root' failed for lonvick on /dev/pts/8"
    assert event["syslog_severity"] == 2 and event["facility"] == "auth"
    assert event["timestamp"] == "2003-10-11T22:14:15.003000+00:00"
    assert event["syslog_format"] == "rfc5424"
    assert event["_source"] == "syslog" and event["_key"] == "lan"


def test_rfc5424_example_2_offset_time_and_procid():
    event = canonical(b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.")
    assert event["timestamp"] == "2003-08-24T12:14:15.000003+00:00"
    assert event["hostname"] == "192.0.2.1"
    assert event["procid"] == "8710"
    assert event["facility"] == "local4" and event["syslog_severity"] == 5
    assert event["message"] == "%% It's time to make the do-nuts."


def test_rfc5424_structured_data_is_kept_with_escapes_and_several_elements():
    event = canonical(b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
                      b'[exampleSDID@32473 iut="3" eventSource="Appli\\"cation\\]" eventID="1011"]'
                      b'[examplePriority@32473 class="high"] An application event')
    assert event["structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": 'Appli"cation]', "eventID": "1011"},
        "examplePriority@32473": {"class": "high"},
    }
    assert event["message"] == "An application event"


def test_rfc5424_nil_timestamp_takes_the_time_received():
    event = canonical(b"<13>1 - host app - - - no time")
    assert event["timestamp"] == RECEIVED.isoformat()
    assert event["message"] == "no time"


def test_juniper_structured_rfc5424():
    event = canonical(b'<28>1 2024-01-15T10:23:45.123Z mx1 mib2d 1234 SNMP_TRAP_LINK_DOWN [junos@2636.1.1.1.2.18 '
                      b'snmp-interface-index="545" admin-status="up(1)" operational-status="down(2)" '
                      b'interface-name="ge-0/0/1"] ifIndex 545, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/1')
    assert event["hostname"] == "mx1" and event["program"] == "mib2d" and event["msgid"] == "SNMP_TRAP_LINK_DOWN"
    assert event["structured_data"]["junos@2636.1.1.1.2.18"]["interface-name"] == "ge-0/0/1"
    assert event["message"].startswith("ifIndex 545,")


# --- RFC 3164 and devices ------------------------------------------------------------------------

def test_rfc3164_example_with_tag():
    event = canonical(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
    assert (event["hostname"], event["program"]) == ("mymachine", "su")
    assert event["message"] == "'su root' failed for lonvick on /dev/pts/8"
    assert event["timestamp"] == "2026-10-11T22:14:15+00:00"
    assert event["syslog_format"] == "rfc3164"


def test_rfc3164_example_without_tag():
    event = canonical(b"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!")
    assert event["hostname"] == "10.0.0.99"
    assert "program" not in event
    assert event["message"] == "Use the BFG!"
    assert event["timestamp"] == "2026-02-05T17:32:18+00:00"


def test_a_year_less_timestamp_a_little_ahead_of_the_receiver_is_this_year_else_last_year():
    january = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert syslog.parse(b"<13>Dec 31 23:59:59 h p: m", PEER, january)["timestamp"] == "2026-12-31T23:59:59+00:00"
    late = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert syslog.parse(b"<13>Jan  1 00:00:05 h p: m", PEER, late)["timestamp"] == "2027-01-01T00:00:05+00:00"


def test_linux_daemon_with_pid():
    event = canonical(b"<30>Dec  3 20:45:19 web01 systemd[1]: Started Session 1 of user root.")
    assert (event["hostname"], event["program"], event["procid"]) == ("web01", "systemd", "1")
    assert event["syslog_severity"] == 6 and event["facility"] == "daemon"


def test_juniper_bsd():
    event = canonical(b"<28>Jan 15 10:23:45 mx1 mib2d[1234]: SNMP_TRAP_LINK_DOWN: ifIndex 545, ifName ge-0/0/1")
    assert (event["hostname"], event["program"], event["procid"]) == ("mx1", "mib2d", "1234")
    assert event["message"] == "SNMP_TRAP_LINK_DOWN: ifIndex 545, ifName ge-0/0/1"


def test_cisco_ios_sequence_number_unsynchronised_clock_and_no_hostname():
    event = canonical(b"<189>52: *Mar  1 00:07:29.111: %SYS-5-CONFIG_I: Configured from console by console")
    assert event["hostname"] == PEER  # no hostname: the sender's address
    assert event["sequence"] == 52
    assert event["clock_unsynchronised"] is True
    assert event["timestamp"] == "2026-03-01T00:07:29.111000+00:00"
    assert event["message"] == "%SYS-5-CONFIG_I: Configured from console by console"
    assert event["syslog_severity"] == 5 and event["facility"] == "local7"
    assert "program" not in event


def test_cisco_ios_origin_hostname_and_utc():
    event = canonical(b"<187>1234: router1: Jan 15 10:23:45.123 UTC: %LINK-3-UPDOWN: "
                      b"Interface GigabitEthernet0/1, changed state to down")
    assert event["hostname"] == "router1"
    assert event["timestamp"] == "2026-01-15T10:23:45.123000+00:00"
    assert event["message"].startswith("%LINK-3-UPDOWN: Interface GigabitEthernet0/1")
    assert event["syslog_severity"] == 3
    assert "clock_unsynchronised" not in event


def test_cisco_zone_name_is_kept_and_the_time_read_as_utc():
    event = canonical(b"<187>77: .Jan 15 10:23:45 CET: %LINEPROTO-5-UPDOWN: Line protocol on Interface Gi0/2, changed state to down")
    assert event["timezone"] == "CET"
    assert event["timestamp"] == "2026-01-15T10:23:45+00:00"
    assert event["clock_unsynchronised"] is True


def test_cisco_with_a_syslog_header_before_the_sequence_number():
    event = canonical(b"<189>Jan 15 10:23:45 10.1.1.1 123: Jan 15 10:23:44.999 UTC: %LINK-3-UPDOWN: x")
    assert event["hostname"] == "10.1.1.1"
    assert "program" not in event  # a bare number is a sequence number, not a tag
    assert event["message"] == "123: Jan 15 10:23:44.999 UTC: %LINK-3-UPDOWN: x"


def test_nxos_year_first_timestamp():
    event = canonical(b"<189>: 2024 Jan 15 10:23:45 UTC: %ETHPORT-5-IF_DOWN_LINK_FAILURE: "
                      b"Interface Ethernet1/1 is down (Link failure)")
    assert event["timestamp"] == "2024-01-15T10:23:45+00:00"
    assert event["hostname"] == PEER
    assert event["message"].startswith("%ETHPORT-5-IF_DOWN_LINK_FAILURE")


def test_no_timestamp_no_hostname_takes_the_time_received_and_the_peer():
    event = canonical(b"<190>%LINK-3-UPDOWN: Interface Gi0/1, changed state to up")
    assert event["hostname"] == PEER
    assert event["timestamp"] == RECEIVED.isoformat()
    assert event["message"] == "%LINK-3-UPDOWN: Interface Gi0/1, changed state to up"


def test_bytes_that_are_not_utf8_are_kept():
    item = parse(b"<13>Jan 15 10:23:45 host app: caf\xe9 \xff")
    assert item["message"] == "caf\\xe9 \\xff"
    assert item["raw_base64"] == "PDEzPkphbiAxNSAxMDoyMzo0NSBob3N0IGFwcDogY2Fm6SD/"
    events.encode(events.normalise(item, STAMP), 65536)


def test_trailing_newline_and_nul_are_not_part_of_the_message():
    assert parse(b"<13>Jan 15 10:23:45 host app: m\x00x\r\n")["message"] == "m\ufffdx"


@pytest.mark.parametrize(("raw", "reason"), [
    (b"no pri at all", "no <PRI> at the start"),
    (b"<192>Jan 15 10:23:45 host app: m", "<PRI> 192 is over 191"),
    (b"", "no <PRI> at the start"),
])
def test_a_message_without_a_valid_pri_is_invalid_with_its_raw_text(raw, reason):
    item = syslog.parse(raw, PEER, RECEIVED)
    assert isinstance(item, events.Invalid)
    assert reason in item.error
    assert item.raw["raw"] == raw.decode() and item.raw["source_ip"] == PEER
    with pytest.raises(events.EventError):
        events.normalise(item, STAMP)


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    st.builds(lambda pri, rest: b"<%d>" % pri + rest, st.integers(0, 300), st.binary(max_size=300)),
    st.builds(lambda pri, rest: f"<{pri}>1 {rest}".encode(), st.integers(0, 191), st.text(max_size=200)),
    st.builds(lambda pri, rest: f"<{pri}>Jan  1 00:00:00 {rest}".encode(), st.integers(0, 191), st.text(max_size=200)),
))
def test_no_input_raises_and_every_parsed_message_is_an_event_or_a_dead_letter(raw):
    item = syslog.parse(raw, PEER, RECEIVED)
    if isinstance(item, events.Invalid):
        return
    events.encode(events.normalise(item, STAMP), 1 << 20)
