"""SNMP traps from net-snmp's snmptrap and snmpinform into a real `mutt listen` and a worker:
v1 and v2c linkDown/linkUp with varbinds, an INFORM acknowledged, a community not allowed denied.
Every trap sent is audited (the fixture's rule matches the ifDescr they carry), none is lost."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import select

from mutt_app.operations import status
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import EventAudit
from tests.integration.listeners.conftest import MARK, settled
from tests.support.processes import wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("snmptrap") is None, reason="net-snmp's snmptrap is not installed (.ci/run installs it)")]

LINK_DOWN, LINK_UP = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"
IF_INDEX, IF_DESCR, IF_ADMIN, IF_OPER = ("1.3.6.1.2.1.2.2.1.1.7", "1.3.6.1.2.1.2.2.1.2.7", "1.3.6.1.2.1.2.2.1.7.7",
                                         "1.3.6.1.2.1.2.2.1.8.7")


def interface(state: int) -> list[str]:
    return [IF_INDEX, "i", "7", IF_DESCR, "s", f"{MARK} GigabitEthernet0/7", IF_ADMIN, "i", "1", IF_OPER, "i", str(state)]


def net_snmp(*args: str) -> None:
    subprocess.run(list(args), check=True, timeout=30, capture_output=True)


def test_v1_and_v2c_link_traps_and_an_acknowledged_inform_arrive_and_a_wrong_community_is_denied(listening):
    agent, redis = f"127.0.0.1:{listening['trap_port']}", listening["redis"]
    net_snmp("snmptrap", "-v", "2c", "-c", "public", agent, "", LINK_DOWN, *interface(2))
    net_snmp("snmptrap", "-v", "2c", "-c", "monitoring", agent, "", LINK_UP, *interface(1))
    net_snmp("snmptrap", "-v", "1", "-c", "public", agent, "1.3.6.1.4.1.9.1.1", "192.0.2.7", "2", "0", "", *interface(2))
    net_snmp("snmptrap", "-v", "1", "-c", "public", agent, "1.3.6.1.4.1.9.1.1", "192.0.2.7", "3", "0", "", *interface(1))
    # snmpinform exits 0 only once MUTT has answered, and MUTT answers only once the event is queued
    net_snmp("snmpinform", "-v", "2c", "-c", "public", "-r", "5", "-t", "2", agent, "", LINK_DOWN, *interface(2))
    net_snmp("snmptrap", "-v", "2c", "-c", "guessed", agent, "", LINK_DOWN, *interface(2))

    counts = wait_until(lambda: settled(redis, 5), timeout=120, message="every trap processed")
    assert counts["accepted"] == counts["audited"] == 5 and counts["rejected"] == 0
    wait_until(lambda: status.listeners(redis).get("snmp-trap") == {"received": 6, "dropped": 0, "denied": 1},
               timeout=5, message="the trap counters")
    with session_scope() as session:
        events = [row.event for row in session.scalars(select(EventAudit))]
    by_version = sorted((event["snmp_version"], event["trap_oid"], event.get("inform", False)) for event in events)
    assert by_version == [("1", LINK_DOWN, False), ("1", LINK_UP, False),
                          ("2c", LINK_DOWN, False), ("2c", LINK_DOWN, True), ("2c", LINK_UP, False)]
    for event in events:
        assert event["varbinds"][IF_OPER]["type"] == "Integer"
        assert event["varbinds"][IF_DESCR] == {"type": "OctetString", "value": f"{MARK} GigabitEthernet0/7"}
        assert event["source_type"] == "snmp_trap" and event["_source"] == "snmp_trap"
        assert "public" not in str(event) and "monitoring" not in str(event)  # the community is never kept
    v1 = [event for event in events if event["snmp_version"] == "1"]
    assert {event["hostname"] for event in v1} == {"192.0.2.7"}  # the v1 agent address
    assert {event["hostname"] for event in events if event["snmp_version"] == "2c"} == {"127.0.0.1"}
