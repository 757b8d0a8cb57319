"""classify: problem or clear, and the key that pairs them, for each rule type, Alertmanager's
firing/resolved notifications, and the order in which patterns are tried."""

from __future__ import annotations

import json

import pytest

from mutt_app.ingest import events
from mutt_app.rules.matcher import (
    MAX_KEY_LENGTH,
    Classified,
    RuleCompileError,
    RuleSet,
    interface_key,
    normalise_key,
)
from mutt_app.rules.seed import RULES as SEED_RULES

LINK_DOWN, LINK_UP = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"


def rule(id_, **fields) -> dict:
    return {"id": id_, "name": f"r{id_}", "priority": 100, "match_type": "contains", **fields}


def seeds() -> RuleSet:
    return RuleSet([dict(seed, id=i + 1) for i, seed in enumerate(SEED_RULES)])


def outcome(found: Classified | None) -> tuple | None:
    return None if found is None else (found.rule.name, found.clears, found.key)


def trap(oid: str, *variables: tuple[str, object]) -> dict:
    return {"message": f"SNMP trap {oid}", "trap_oid": oid,
            "variables": [{"oid": name, "value": value} for name, value in variables]}


@pytest.mark.parametrize("event, expected", [
    ({"message": "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down"},
     ("Cisco interface down / up", False, "GigabitEthernet0/1")),
    ({"message": "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to up"},
     ("Cisco interface down / up", True, "GigabitEthernet0/1")),
    ({"message": "%LINEPROTO-5-UPDOWN: Line protocol on Interface Vlan10, changed state to down"},
     ("Cisco line protocol down / up", False, "Vlan10")),
    ({"message": "%LINEPROTO-5-UPDOWN: Line protocol on Interface Vlan10, changed state to up"},
     ("Cisco line protocol down / up", True, "Vlan10")),
    (trap(LINK_DOWN, (f"{IF_INDEX}.3", 3), (f"{IF_OPER_STATUS}.3", 2)), ("SNMP linkDown / linkUp", False, "3")),
    (trap(LINK_UP, (f"{IF_INDEX}.3", 3), (f"{IF_OPER_STATUS}.3", 1)), ("SNMP linkDown / linkUp", True, "3")),
    (trap(LINK_UP, (f"{IF_OPER_STATUS}.12", 1)), ("SNMP linkDown / linkUp", True, "12")),  # no ifIndex: its suffix
    (trap(LINK_DOWN), ("SNMP linkDown / linkUp", False, None)),                              # no interface at all
    ({"message": "an ERROR happened"}, ("Error", False, None)),                              # no clear, no key
    ({"message": "nothing to see"}, None),
])
def test_the_seed_rules_pair_downs_with_ups(event, expected):
    assert outcome(seeds().classify(event)) == expected


def test_a_contains_rule_clears_on_its_clear_string_without_a_key():
    rule_set = RuleSet([rule(1, match_string="BGP peer down", clear_match_string="BGP peer up")])
    assert outcome(rule_set.classify({"message": "BGP PEER DOWN 10.0.0.1"})) == ("r1", False, None)
    assert outcome(rule_set.classify({"message": "bgp peer up 10.0.0.1"})) == ("r1", True, None)


def test_a_regex_key_comes_from_whichever_pattern_matched():
    rule_set = RuleSet([rule(1, match_type="regex", match_string=r"fan (?P<key>\d+) failed",
                             clear_match_string=r"fan (?P<key>\d+) (ok|recovered)")])
    assert outcome(rule_set.classify({"message": "Fan 2 failed"})) == ("r1", False, "2")
    assert outcome(rule_set.classify({"message": "fan 2 recovered"})) == ("r1", True, "2")
    assert outcome(rule_set.classify({"message": "fan 2 on fire"})) is None


def test_a_key_group_that_matched_nothing_gives_no_key():
    rule_set = RuleSet([rule(1, match_type="regex", match_string=r"disk (?P<key>sd\w+)? full")])
    assert outcome(rule_set.classify({"message": "disk  full"})) == ("r1", False, None)


def test_each_rule_tries_its_problem_then_its_clear_in_priority_order():
    rule_set = RuleSet([
        rule(1, priority=10, match_string="link", clear_match_string="state up"),
        rule(2, priority=5, match_string="state up"),                    # earlier: its problem wins
        rule(3, priority=1, match_string="flap", clear_match_string="link"),  # earliest: its clear wins
    ])
    assert outcome(rule_set.classify({"message": "link state up"})) == ("r3", True, None)
    assert outcome(rule_set.classify({"message": "state up"})) == ("r2", False, None)
    # the same text in a rule's problem and clear patterns: the problem wins
    both = RuleSet([rule(1, match_string="port", clear_match_string="port")])
    assert outcome(both.classify({"message": "port 3"})) == ("r1", False, None)


def test_match_looks_at_problem_patterns_only():
    rule_set = RuleSet([rule(1, priority=1, match_string="down", clear_match_string="up"), rule(2, match_string="up")])
    assert rule_set.match({"message": "link up"}).id == 2
    assert outcome(rule_set.classify({"message": "link up"})) == ("r1", True, None)


def test_a_clear_keeps_the_trap_oid_scope_but_not_the_severity_filter():
    rule_set = RuleSet([rule(1, match_string="down", clear_match_string="up", trap_oid="1.3.6.1.4.1.9",
                             syslog_severity=3)])
    assert outcome(rule_set.classify({"message": "down", "trap_oid": "1.3.6.1.4.1.9.1", "syslog_severity": 3})) == ("r1", False, None)
    assert outcome(rule_set.classify({"message": "up", "trap_oid": "1.3.6.1.4.1.9.1", "syslog_severity": 6})) == ("r1", True, None)
    assert rule_set.classify({"message": "up", "trap_oid": "1.3.6.1.4.1.11.1"}) is None
    assert rule_set.classify({"message": "up"}) is None


def test_explain_says_whether_the_event_clears_and_its_key():
    found = seeds().explain({"message": "%LINK-3-UPDOWN: Interface Gi0/2, changed state to up"})
    assert (found.rule.name, found.clears, found.key) == ("Cisco interface down / up", True, "Gi0/2")
    assert found.why[0].pattern == r"%LINK-3-UPDOWN: Interface (?P<key>\S+), changed state to up"


# --- keys -------------------------------------------------------------------------------------

def test_interface_key_reads_ifindex_in_every_shape_ingest_accepts():
    assert interface_key(trap(LINK_DOWN, (f"{IF_INDEX}.7", 7))) == "7"
    assert interface_key({"variables": [f"@{{oid={IF_INDEX}; value=2}}"]}) == "2"  # v2.5's sample shape
    assert interface_key({"variables": {f".{IF_INDEX}.9": 9}}) == "9"
    assert interface_key(trap(LINK_DOWN, ("1.3.6.1.2.1.31.1.1.1.1.5", "Gi0/5"))) == "5"  # ifName.5
    assert interface_key(trap(LINK_DOWN, ("1.3.6.1.4.1.9.2.2.1.1.20.5", "down"))) is None
    assert interface_key({"variables": "not a list"}) is None


def test_keys_are_short_printable_and_stay_apart():
    assert normalise_key("  Gi0/1\n") == "Gi0/1"
    assert normalise_key(7) == "7" and normalise_key(7.0) == "7"
    assert normalise_key("") is None and normalise_key({"a": 1}) is None and normalise_key(True) is None
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    assert len(normalise_key(long_a)) == MAX_KEY_LENGTH
    assert normalise_key(long_a) != normalise_key(long_b)
    assert normalise_key(long_a).startswith("x" * 40)


# --- Alertmanager -------------------------------------------------------------------------------

def alertmanager(status: str, **alert) -> dict:
    body = {"version": "4", "status": status, "receiver": "mutt", "alerts": [{
        "status": status, "labels": {"alertname": "HighCPU", "instance": "node1:9100", "job": "node"},
        "annotations": {"summary": "CPU above 95%"}, "startsAt": "2026-01-01T00:00:00Z", **alert}]}
    parsed = events.parse_alertmanager(json.dumps(body))
    return events.normalise(parsed.items[0], events.Stamp("c", "2026-01-01T00:00:00+00:00", "alertmanager", "am"))


def test_alertmanager_firing_and_resolved_are_one_alert_opened_then_cleared():
    rule_set = RuleSet([rule(1, match_string="HighCPU")])
    firing, resolved = alertmanager("firing", fingerprint="c0ffee"), alertmanager("resolved", fingerprint="c0ffee")
    assert firing["message"] == resolved["message"] == "HighCPU: CPU above 95%"
    assert outcome(rule_set.classify(firing)) == ("r1", False, "c0ffee")
    assert outcome(rule_set.classify(resolved)) == ("r1", True, "c0ffee")


def test_alertmanager_without_a_fingerprint_is_keyed_by_its_labels():
    rule_set = RuleSet([rule(1, match_type="regex", match_string=r"(?P<key>HighCPU)")])
    firing, resolved = alertmanager("firing"), alertmanager("resolved")
    assert firing[events.ALERT_KEY_FIELD] == resolved[events.ALERT_KEY_FIELD]
    assert firing[events.ALERT_KEY_FIELD].startswith("labels-")
    # the Alertmanager key, not the regex's group, identifies the alert
    assert outcome(rule_set.classify(resolved)) == ("r1", True, firing[events.ALERT_KEY_FIELD])


def test_a_sender_cannot_set_the_trusted_fields():
    stamp = events.Stamp("c", "2026-01-01T00:00:00+00:00", "ingest", "k")
    sent = {"hostname": "h", "message": "HighCPU", "timestamp": 0, "_alert_key": "c0ffee", "_resolved": True}
    event = events.normalise(sent, stamp)
    assert events.ALERT_KEY_FIELD not in event and events.RESOLVED_FIELD not in event
    assert outcome(RuleSet([rule(1, match_string="HighCPU")]).classify(event)) == ("r1", False, None)
    # nor through the Alertmanager webhook: the alert's own "_" fields are dropped too
    firing = alertmanager("firing", fingerprint="c0ffee", _resolved=True, _alert_key="other")
    assert (firing[events.RESOLVED_FIELD], firing[events.ALERT_KEY_FIELD]) == (False, "c0ffee")


# --- refused rules ------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, problem", [
    (dict(match_type="oid_prefix", trap_oid=".1.3", clear_match_string="up"), "clear_match_string"),
    (dict(match_string="down", clear_trap_oid=".1.3"), "clear_trap_oid"),
    (dict(match_type="regex", match_string="down", clear_trap_oid=".1.3"), "clear_trap_oid"),
    (dict(match_type="oid_prefix", trap_oid=".1.3", clear_trap_oid="1.x"), "clear_trap_oid must be a dotted OID"),
    (dict(match_type="regex", match_string="down", clear_match_string="(up"), "clear_match_string is not a valid"),
    (dict(match_type="regex", match_string="down", clear_match_string="(?=up)"), "lookahead"),
    (dict(match_type="regex", match_string=r"(?P<key>\S+) down", clear_match_string="up"), "clear_match_string: match_string has"),
    (dict(match_type="regex", match_string="down", clear_match_string=r"(?P<key>\S+) up"), "match_string: clear_match_string has"),
])
def test_a_clear_pattern_that_cannot_work_is_refused(fields, problem):
    with pytest.raises(RuleCompileError, match=problem.replace("(", r"\(")):
        RuleSet([rule(1, **fields)])
