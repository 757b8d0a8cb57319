"""The alerter's decisions on a batch: audit rows, alerts, unhandled and failed events."""

from __future__ import annotations

from datetime import UTC, datetime

from mutt_app.alerting import decide
from mutt_app.alerting.knowledge import Knowledge
from mutt_app.alerting.rollup import Trigger
from mutt_app.rules.seed import DEVELOPMENT_HOSTS, DEVICE_TEAMS, RULES

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def knowledge():
    return Knowledge.build([dict(r, id=i + 1) for i, r in enumerate(RULES)], DEVELOPMENT_HOSTS, dict(DEVICE_TEAMS))


def event(n, hostname, message, **extra):
    return {"_id": f"e{n}", "_correlation_id": f"c{n}", "_received_at": "2026-01-02T03:04:00+00:00",
            "timestamp": "2026-01-02T03:03:59Z", "hostname": hostname, "message": message, **extra}


def test_a_batch_becomes_audit_rows_alerts_unhandled_and_failures():
    batch = [
        event(1, "core-router-01.dc1.example.com", "LINK-DOWN Gi0/1"),   # prod, Page_and_ticket
        event(2, "DEV-ROUTER1.lab.example.com", "LINK-DOWN Gi0/1"),      # dev, Ticket_only
        event(3, "test-switch1", "some ERROR"),                          # dev, Ignore: audit only
        event(4, "core-router-01.dc1.example.com", "all good"),          # unhandled
        {"hostname": "x", "message": "no id"},                           # failed
        event(6, 42, "hostname is a number"),                            # failed
        "not even an object",                                            # failed
    ]
    outcome = decide.process(knowledge(), batch, now=NOW, alert_lease_seconds=45)
    assert [(r["event_id"], r["environment"], r["decision"], r["forwarded"], r["rule_name"]) for r in outcome.audit_rows] == [
        ("e1", "prod", "Page_and_ticket", True, "Link down"),
        ("e2", "dev", "Ticket_only", True, "Link down"),
        ("e3", "dev", "Ignore", False, "Error"),
        ("e4", "prod", "unhandled", False, ""),   # no rule: audited all the same, to be found
    ]
    assert outcome.audit_rows[3]["rule_id"] is None and outcome.audit_rows[3]["event"] == batch[3]
    assert decide.audited(outcome.audit_rows) == 3   # the batch's "audited" count: what a rule matched
    assert outcome.audit_rows[0]["correlation_id"] == "c1" and outcome.audit_rows[0]["event"] == batch[0]
    assert outcome.audit_rows[0]["event_time"] == datetime(2026, 1, 2, 3, 3, 59, tzinfo=UTC)
    first, second = (signal.alert for signal in outcome.signals)
    assert [(s.clears, s.key, s.event_time) for s in outcome.signals] == [(False, "", datetime(2026, 1, 2, 3, 3, 59, tzinfo=UTC))] * 2
    assert (first["id"], first["state"], first["team"], first["severity"], first["decision"], first["environment"]) == (
        "e1", "pending", "NetOps", 4, "Page_and_ticket", "prod")
    assert (first["lease_until"] - NOW).total_seconds() == 45
    assert first["signature"] == second["signature"].replace("dev-router1.lab.example.com", "core-router-01.dc1.example.com")
    assert [e["_id"] for e in outcome.unhandled] == ["e4"]
    assert [(ref[:5], error.split(":")[0]) for ref, _, error in outcome.failed] == [
        ("sha1-", "ValueError"), ("e6", "ValueError"), ("sha1-", "TypeError")]


def test_signatures_are_stable_per_rule_host_and_message_shape():
    k = knowledge()
    one = decide.process(k, [event(1, "h", "LINK-DOWN port 1")], now=NOW, alert_lease_seconds=1).signals[0].alert
    two = decide.process(k, [event(2, "H", "link-down port 2")], now=NOW, alert_lease_seconds=1).signals[0].alert
    three = decide.process(k, [event(3, "h", "LINK-DOWN fan")], now=NOW, alert_lease_seconds=1).signals[0].alert
    assert one["signature"] == two["signature"] != three["signature"]
    assert one["signature"].startswith("mutt:rule:1:h:")


def test_a_key_from_the_rule_replaces_the_message_fingerprint_in_the_signature():
    assert decide.signature("rule", 7, "R1.example", "Interface Gi0/1 down", "Gi0/1") == "mutt:rule:7:r1.example:Gi0/1"
    assert decide.signature("rule", 7, "R1.example", "Interface Gi0/1 down", None) != "mutt:rule:7:r1.example:Gi0/1"


def test_a_rule_with_a_clear_pattern_and_no_key_pairs_its_problem_and_clear_by_rule_and_host():
    peer = {"id": 9, "name": "BGP peer", "match_type": "contains", "match_string": "BGP peer down",
            "clear_match_string": "BGP peer up", "priority": 1, "prod_handling": "Page_only", "dev_handling": "Ignore",
            "team_assignment": "NetOps", "moog_severity": 4}
    fan = dict(peer, id=10, name="fan", match_string="fan failed", clear_match_string=None)
    k = Knowledge.build([peer, fan], [], {})
    outcome = decide.process(k, [event(1, "r1", "BGP peer down 10.0.0.1"), event(2, "r1", "BGP peer up 10.0.0.1"),
                                 event(3, "r1", "fan failed: tray 1"), event(4, "r1", "fan failed: PSU")],
                             now=NOW, alert_lease_seconds=1)
    down, up, tray, psu = outcome.signals
    assert (down.alert["signature"], down.clears, up.alert["signature"], up.clears) == (
        "mutt:rule:9:r1:*", False, "mutt:rule:9:r1:*", True)
    assert tray.alert["signature"] != psu.alert["signature"]  # no clear pattern: the message tells them apart


def test_a_hosts_device_team_overrides_the_rules_team():
    """The Teams page's promise: a host with a device team pages that team; other hosts page the
    rule's team. The audit row records the team that was paged."""
    k = knowledge()  # rule "Link down" pages NetOps; edge-fw-02 belongs to Security
    owned, anonymous = decide.process(k, [
        event(1, "EDGE-FW-02.edge.example.com", "LINK-DOWN Gi0/1"),
        event(2, "lonely-router.example.com", "LINK-DOWN Gi0/1"),
    ], now=NOW, alert_lease_seconds=45).signals
    assert (owned.alert["team"], anonymous.alert["team"]) == ("Security", "NetOps")
    assert decide.decide(k, event(4, "edge-fw-02.edge.example.com", "x"), None).team == "Security"
    audit = decide.process(k, [event(5, "edge-fw-02.edge.example.com", "LINK-DOWN Gi0/2")], now=NOW,
                            alert_lease_seconds=45).audit_rows
    assert audit[0]["team"] == "Security"


def test_meta_alert_goes_to_the_device_team_or_the_default():
    k = knowledge()
    known = Trigger("edge-fw-02.edge.example.com", "f" * 16, 100, event(1, "edge-fw-02.edge.example.com", "odd thing 7"))
    unknown = Trigger("nobody", "a" * 16, 100, event(2, "nobody", "odd thing 7"))
    meta = decide.meta_alert(k, known, threshold=100, window_seconds=600, default_team="NETO", now=NOW, alert_lease_seconds=45)
    assert (meta["kind"], meta["team"], meta["severity"], meta["id"]) == ("meta", "Security", 2, "e1")
    assert meta["description"].startswith("[MUTT] 100 unhandled events (threshold 100) in 600s from 'edge-fw-02")
    assert meta["signature"] == "mutt:unhandled:edge-fw-02.edge.example.com:" + "f" * 16
    other = decide.meta_alert(k, unknown, threshold=100, window_seconds=600, default_team="NETO", now=NOW, alert_lease_seconds=45)
    assert other["team"] == "NETO" and other["signature"] != meta["signature"]


def test_forwarding_decisions_in_any_case():
    assert all(decide.forwards(d) for d in ("page_and_ticket", "PAGE_ONLY", " Ticket_only "))
    assert not any(decide.forwards(d) for d in ("Ignore", "page", "ticket-only", ""))
