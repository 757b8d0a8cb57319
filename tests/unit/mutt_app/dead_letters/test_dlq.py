"""The dead-letter store: record, list, get, purge (replay: tests/unit/mutt_app/remediation/test_replay.py)."""

import json

import pytest
from sqlalchemy import select

from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit, DeadLetter
from tests.support.recovery import alert_letter, event_letter


def test_list_filters_pages_and_counts(redis, database_url):
    with session_scope() as session:
        for i in range(7):
            event_letter(session, f"e{i}", reason=dlq.SHED if i % 2 else dlq.PROCESSING_FAILED)
        alert_letter(session)
    with session_scope() as session:
        everything = dlq.list_dead_letters(session, limit=3)
        assert (everything.total, everything.pages, len(everything.items)) == (8, 3, 3)
        last = dlq.list_dead_letters(session, page=3, limit=3)
        assert len(last.items) == 2
        shed = dlq.list_dead_letters(session, kind="event", reason="shed")
        assert shed.total == 3 and {letter.ref_id for letter in shed.items} == {"e1", "e3", "e5"}
        assert dlq.list_dead_letters(session, kind="alert").total == 1


@pytest.mark.parametrize("bad", [{"kind": "thing"}, {"reason": "tired"}, {"state": "gone"}, {"page": 0}, {"limit": 501}])
def test_list_refuses_bad_filters(redis, sqlite_url, bad):
    with session_scope() as session, pytest.raises(dlq.DeadLetterError):
        dlq.list_dead_letters(session, **bad)


def test_purge_by_ids_and_by_filter_audits_each_letter(redis, database_url):
    with session_scope() as session:
        keep = event_letter(session, "keep").id
        by_id = event_letter(session, "by-id").id
        shed = [event_letter(session, f"shed{i}", dlq.SHED).id for i in range(3)]
    with session_scope() as session:
        assert dlq.purge(session, [by_id], actor="user:bob", reason="junk") == 1
        assert dlq.purge(session, where=dlq.Filter(reason=dlq.SHED), actor="user:bob", reason="old shed") == 3
    with session_scope() as session:
        assert [letter.id for letter in session.scalars(select(DeadLetter))] == [keep]
        audits = session.scalars(select(ConfigAudit).where(ConfigAudit.operation == "DELETE")).all()
        assert sorted(int(a.record_id) for a in audits) == sorted([by_id, *shed])
        assert {a.old_values["reason"] for a in audits} == {"processing_failed", "shed"}


def test_purge_refuses_an_empty_filter(redis, sqlite_url):
    with session_scope() as session, pytest.raises(dlq.DeadLetterError):
        dlq.purge(session, where=dlq.Filter(), actor="cli", reason="")


def test_as_dict_is_json(redis, sqlite_url):
    with session_scope() as session:
        letter = event_letter(session)
        body = json.loads(json.dumps(dlq.as_dict(letter)))
        assert body["payload"]["_id"] == "ev1" and body["reason"] == "processing_failed"


def test_host_message_and_rule_come_from_each_kind_of_payload(redis, sqlite_url):
    from mutt_app.forwarding import moog
    from mutt_app.operations.janitor import alert_summary
    from tests.support.recovery import make_alert

    with session_scope() as session:
        alert = make_alert(session, state="dead")
        alert.hostname, alert.description, alert.rule_id, alert.rule_name = "edge-1", "BGP peer down", 12, "BGP"
        forwarder, janitor = dlq.summary(moog.payload(alert)), dlq.summary(alert_summary(alert))
    expected = {"host": "edge-1", "message": "BGP peer down", "rule_id": 12, "rule_name": "BGP"}
    assert forwarder == expected and janitor == expected
    assert dlq.summary({"_id": "e1", "hostname": "r1", "message": "link down", "_source": "ingest"}) == {
        "host": "r1", "message": "link down", "rule_id": None, "rule_name": None}  # an event: no rule yet
    assert dlq.summary({"event": {"hostname": "r2", "message": "m"}}) == {
        "host": "r2", "message": "m", "rule_id": None, "rule_name": None}     # an event wrapped (not an object)
    nothing = {"host": None, "message": None, "rule_id": None, "rule_name": None}
    assert dlq.summary(None) == nothing and dlq.summary([1, 2]) == nothing and dlq.summary("text") == nothing
    assert dlq.summary({"hostname": 7, "message": "x" * 5000, "rule_id": True})["message"] == "x" * dlq.SUMMARY_LIMIT
    assert dlq.summary({"hostname": 7, "rule_id": True}) == {**nothing, "host": "7"}
    with session_scope() as session:
        letter = event_letter(session, "e9", hostname="core-1", message="fan failed")
        assert {k: dlq.as_dict(letter, with_payload=False)[k] for k in ("host", "message")} == {
            "host": "core-1", "message": "fan failed"}


def test_a_bulk_selection_is_ids_or_a_filter_never_both_and_bounded(redis, database_url):
    with session_scope() as session:
        shed = [event_letter(session, f"s{i}", dlq.SHED).id for i in range(3)]
        other = event_letter(session, "o").id
    with session_scope() as session:
        assert dlq.selected_ids(session, [other, other, shed[0]]) == [other, shed[0]]
        assert dlq.selected_ids(session, where=dlq.Filter(reason=dlq.SHED)) == shed
        assert dlq.selected_ids(session, where=dlq.Filter(reason=dlq.SHED), limit=None) == shed
        with pytest.raises(dlq.DeadLetterError, match="not both"):
            dlq.selected_ids(session, [other], dlq.Filter(reason=dlq.SHED))
        with pytest.raises(dlq.DeadLetterError, match="name the dead letters"):
            dlq.selected_ids(session, [], dlq.Filter())
        with pytest.raises(dlq.DeadLetterError, match="at most 2 dead letters"):
            dlq.selected_ids(session, where=dlq.Filter(reason=dlq.SHED), limit=2)
