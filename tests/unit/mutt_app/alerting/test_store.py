"""Storing a batch's outcome with its alerts' lifecycle: real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mutt_app.alerting import decide, store
from mutt_app.alerting.alert_state import Settings
from mutt_app.alerting.knowledge import Knowledge
from mutt_app.rules.seed import DEVELOPMENT_HOSTS, DEVICE_TEAMS, RULES
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, AlertState, EventAudit

T0 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
KNOWLEDGE = Knowledge.build([dict(r, id=i + 1) for i, r in enumerate(RULES)], DEVELOPMENT_HOSTS, dict(DEVICE_TEAMS))
SETTINGS = Settings(dedup_window_seconds=300, flap_threshold=4, flap_window_seconds=600)


def event(n, seconds, host="core-router-01.dc1.example.com"):
    moment = (T0 + timedelta(seconds=seconds)).isoformat()
    return {"_id": f"e{n}", "_received_at": moment, "timestamp": moment, "hostname": host, "message": "LINK-DOWN Gi0/1"}


def outcome(events, clears=()):
    """The decided batch; events whose id is in ``clears`` are clears of the same signature (what
    a rule's clear pattern will say once rules have them)."""
    decided = decide.process(KNOWLEDGE, events, now=T0, alert_lease_seconds=60)
    decided.signals = [replace(s, clears=s.clears or s.alert["id"] in clears) for s in decided.signals]
    return decided


def write(decided):
    with session_scope() as session:
        return store.store(session, decided, attempts=1, settings=SETTINGS)


def alert_states():
    with session_scope() as session:
        return [(a.signature, a.state, a.occurrences, a.flapping) for a in session.scalars(select(AlertState))]


def audit():
    with session_scope() as session:
        rows = session.scalars(select(EventAudit).order_by(EventAudit.event_id))
        return {row.event_id: (row.decision, row.forwarded, row.alert_id) for row in rows}


def outbox():
    with session_scope() as session:
        return {a.id: (a.severity, a.lifecycle["send"], a.lifecycle["occurrences"]) for a in session.scalars(select(Alert))}


def test_a_batch_is_applied_in_event_time_order_whatever_its_order(database_url):
    # arrival order e3 e1 e4 e2 e5; event-time order e1 e2 e3 (clear) e4 e5
    written = write(outcome([event(3, 30), event(1, 0), event(4, 40), event(2, 10), event(5, 50)], clears={"e3"}))
    assert [alert["id"] for alert in written.alerts] == ["e1", "e3", "e4"]
    [(signature, state, occurrences, flapping)] = alert_states()
    assert signature.startswith("mutt:rule:") and (state, occurrences, flapping) == ("open", 2, False)
    assert outbox() == {"e1": (4, "open", 1), "e3": (0, "clear", 2), "e4": (4, "open", 1)}
    decisions = audit()
    assert {n: d[:2] for n, d in decisions.items()} == {
        "e1": ("Page_and_ticket", True), "e2": ("duplicate", False), "e3": ("Page_and_ticket", True),
        "e4": ("Page_and_ticket", True), "e5": ("duplicate", False)}
    assert len({alert_id for _, _, alert_id in decisions.values()}) == 1


def test_a_redelivered_batch_changes_nothing(database_url):
    batch = [event(1, 0), event(2, 10)]
    write(outcome(batch))
    before = (alert_states(), audit(), outbox())
    again = write(outcome(batch))
    assert again.alerts == [] and (alert_states(), audit(), outbox()) == before


def test_the_next_batch_continues_the_alert_dedup_and_then_refresh(database_url):
    write(outcome([event(1, 0), event(2, 10)]))
    assert write(outcome([event(3, 200)])).alerts == []
    refresh = write(outcome([event(4, 301)])).alerts
    assert [(a["id"], a["lifecycle"]["send"], a["lifecycle"]["occurrences"]) for a in refresh] == [("e4", "refresh", 4)]
    assert write(outcome([event(5, 100)])).alerts == []    # older than the last applied
    assert audit()["e5"][0] == "out_of_order" and alert_states()[0][2] == 4


def test_a_clear_without_an_alert_leaves_no_alert_state(database_url):
    written = write(outcome([event(1, 0)], clears={"e1"}))
    assert written.alerts == [] and alert_states() == []
    assert audit()["e1"] == ("clear_without_alert", False, None)


def test_flapping_is_said_once_then_held_back(database_url):
    written = write(outcome([event(n, n) for n in range(8)], clears={"e1", "e3", "e5", "e7"}))
    assert [a["lifecycle"]["send"] for a in written.alerts] == ["open", "clear", "open", "flapping"]
    assert "[flapping: 4 state changes within 600 s" in written.alerts[-1]["description"]
    assert alert_states()[0][1:] == ("cleared", 1, True)


def test_concurrent_batches_on_the_same_signatures_neither_deadlock_nor_lose_counts(database_url):
    hosts = [f"host-{n:02d}" for n in range(20)]
    batches = [[event(f"{b}-{n}", 0, host) for n, host in enumerate(order)] for b, order in
               enumerate([hosts, hosts[::-1], hosts[5:] + hosts[:5], hosts[::-1]])]
    errors = []

    def run(batch):
        try:
            write(outcome(batch))
        except Exception as error:  # pragma: no cover - what the test must not see
            errors.append(error)

    threads = [threading.Thread(target=run, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    states = alert_states()
    assert len(states) == 20 and {occurrences for _, _, occurrences, _ in states} == {4}
    assert len(outbox()) == 20    # one open per host, the rest duplicates


def cisco(n, seconds, interface, state):
    return {**event(n, seconds), "message": f"%LINK-3-UPDOWN: Interface {interface}, changed state to {state}"}


def test_an_up_clears_the_down_of_its_own_interface_with_severity_0_and_the_same_signature(database_url):
    written = write(outcome([cisco(1, 0, "Gi0/1", "down"), cisco(2, 1, "Gi0/2", "down"), cisco(3, 5, "Gi0/1", "up"),
                             cisco(4, 6, "Gi0/3", "up")]))
    sent = {a["id"]: a for a in written.alerts}
    assert {n: (a["severity"], a["lifecycle"]["send"]) for n, a in sent.items()} == {
        "e1": (4, "open"), "e2": (4, "open"), "e3": (0, "clear")}
    assert sent["e1"]["signature"] == sent["e3"]["signature"] != sent["e2"]["signature"]
    assert sent["e1"]["signature"].endswith(":core-router-01.dc1.example.com:Gi0/1")
    assert sorted(state for _, state, _, _ in alert_states()) == ["cleared", "open"]
    assert audit()["e4"][0] == "clear_without_alert"


def test_the_janitor_sends_where_a_flapping_alert_settled_once_stable_for_the_window(database_url):
    write(outcome([event(n, n) for n in range(5)], clears={"e1", "e3"}))   # flapping, open again at 4 s
    with session_scope() as session:
        assert store.settle_flapping(session, T0 + timedelta(seconds=500), SETTINGS, lease_seconds=45) == []
    with session_scope() as session:
        [settled] = store.settle_flapping(session, T0 + timedelta(seconds=605), SETTINGS, lease_seconds=45)
    assert (settled["severity"], settled["lifecycle"]["send"], settled["lifecycle"]["flapping"]) == (4, "refresh", False)
    assert alert_states()[0][1:] == ("open", 1, False)
    assert settled["id"] in outbox()
    with session_scope() as session:
        assert store.settle_flapping(session, T0 + timedelta(seconds=2000), SETTINGS, lease_seconds=45) == []


def test_a_batch_mixing_clears_and_problems_of_several_alerts_is_written_in_bulk(database_url):
    write(outcome([cisco(1, 0, "Gi0/1", "down")]))
    written = write(outcome([cisco(2, 5, "Gi0/1", "up"), cisco(3, 6, "Gi0/2", "down")]))   # raises if refused
    assert sorted(a["lifecycle"]["send"] for a in written.alerts) == ["clear", "open"]


def test_a_batch_with_events_that_forward_and_events_that_do_not_is_written_in_bulk(database_url):
    ignored = {**event(2, 1, host="test-switch1"), "message": "some ERROR"}    # dev host, rule "Error": Ignore
    written = write(outcome([event(1, 0), ignored]))   # raises if refused
    assert [a["id"] for a in written.alerts] == ["e1"]
    assert audit()["e2"] == ("Ignore", False, None)
