"""contrib/snmptrapd/mutt-traphandle against the real endpoint: what snmptrapd hands a traphandle
(captured from net-snmp 5.9 with -On -n) becomes an event MUTT queues; an outage spools, not drops."""

import importlib.machinery
import importlib.util
import json
import socket
from pathlib import Path

import pytest

from mutt_app.storage import redis_keys

SCRIPT = Path(__file__).parents[3] / "contrib" / "snmptrapd" / "mutt-traphandle"

V2C_LINK_DOWN = """UDP: [192.0.2.7]:50641->[10.0.0.1]:162
UDP: [192.0.2.7]:50641->[10.0.0.1]:162
.1.3.6.1.2.1.1.3.0 0:1:32:06.88
.1.3.6.1.6.3.1.1.4.1.0 .1.3.6.1.6.3.1.1.5.3
.1.3.6.1.2.1.1.5.0 "core-router-01.dc1"
.1.3.6.1.2.1.2.2.1.2 "Gi0/1 \\"uplink\\"
second line"
.1.3.6.1.2.1.2.2.1.1 2
"""

V1_RELAYED = """UDP: [127.0.0.1]:34161->[127.0.0.1]:162
UDP: [127.0.0.1]:34161->[127.0.0.1]:162
.1.3.6.1.2.1.1.3.0 0:1:32:06.92
.1.3.6.1.6.3.1.1.4.1.0 .1.3.6.1.4.1.9.0.17
.1.3.6.1.4.1.9.1 "Fan tray bad"
.1.3.6.1.6.3.18.1.3.0 10.9.8.7
.1.3.6.1.6.3.18.1.4.0 "public"
.1.3.6.1.6.3.1.1.4.3.0 .1.3.6.1.4.1.9
"""


@pytest.fixture(scope="module")
def traphandle():
    loader = importlib.machinery.SourceFileLoader("mutt_traphandle", str(SCRIPT))
    spec = importlib.util.spec_from_loader("mutt_traphandle", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_a_v2c_trap_names_its_source_and_keeps_multiline_values(traphandle):
    event = traphandle.parse(V2C_LINK_DOWN.splitlines())
    assert (event["hostname"], event["source_ip"], event["trap_oid"]) == ("core-router-01.dc1", "192.0.2.7", "1.3.6.1.6.3.1.1.5.3")
    assert event["variables"] == [
        {"oid": "1.3.6.1.2.1.1.5.0", "value": "core-router-01.dc1"},
        {"oid": "1.3.6.1.2.1.2.2.1.2", "value": 'Gi0/1 "uplink"\nsecond line'},
        {"oid": "1.3.6.1.2.1.2.2.1.1", "value": "2"},
    ]
    assert event["message"].startswith("SNMP trap 1.3.6.1.6.3.1.1.5.3 from 192.0.2.7: 1.3.6.1.2.1.1.5.0=core-router-01.dc1")


def test_a_relayed_v1_trap_is_named_by_its_agent_and_never_forwards_the_community(traphandle):
    event = traphandle.parse(V1_RELAYED.splitlines())
    assert (event["hostname"], event["source_ip"], event["trap_oid"]) == ("10.9.8.7", "10.9.8.7", "1.3.6.1.4.1.9.0.17")
    assert event["variables"] == [{"oid": "1.3.6.1.4.1.9.1", "value": "Fan tray bad"}]
    assert "public" not in json.dumps(event)


def test_symbolic_trap_oids_are_not_sent_as_trap_oid(traphandle):
    event = traphandle.parse(["h", "UDP: [192.0.2.9]:1->[10.0.0.1]:162", "SNMPv2-MIB::snmpTrapOID.0 IF-MIB::linkDown"])
    assert "trap_oid" not in event and event["trap_name"] == "IF-MIB::linkDown"


def test_traps_are_queued_and_an_outage_spools_them_until_mutt_answers(traphandle, live, key, redis, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    spool = tmp_path / "spool"
    down = {"url": f"http://127.0.0.1:{dead}/api/v2/ingest", "api_key": key, "timeout": "2"}
    up = {**down, "url": live + "/api/v2/ingest"}

    first = traphandle.parse(V2C_LINK_DOWN.splitlines())
    assert traphandle.deliver(down, first, spool) is False
    traphandle.spool(spool, first)
    assert len(list(spool.glob("*.json"))) == 1 and redis.llen(redis_keys.INGEST_BUFFER) == 0

    assert traphandle.deliver(up, json.loads(next(spool.glob("*.json")).read_text()), spool) is True
    assert traphandle.deliver(up, traphandle.parse(V1_RELAYED.splitlines()), spool) is True
    queued = [json.loads(item) for item in redis.lrange(redis_keys.INGEST_BUFFER, 0, -1)]
    assert [e["hostname"] for e in queued] == ["core-router-01.dc1", "10.9.8.7"]

    assert traphandle.deliver(up, {"message": "no host"}, spool) is True  # refused: kept for a human
    [rejected] = (spool / "rejected").glob("*.json")
    assert json.loads(rejected.read_text())["status"] == 400
