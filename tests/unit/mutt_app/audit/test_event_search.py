"""The event search (``queries.search_events``) on SQLite and PostgreSQL: host by part or start,
words of the message, decision whatever its case, the last so long, dead letters; bad filters
refused with a message; on PostgreSQL, the searches served by the indexes of migration 0005."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from mutt_app.alerting import decide
from mutt_app.audit import queries
from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import EVENT_SEARCH_INDEXES, EventAudit

NOW = datetime.now(UTC)


def row(event_id, hostname, message, decision="Page_and_ticket", minutes_ago=1, rule_id=1):
    return EventAudit(event_id=event_id, received_at=NOW - timedelta(minutes=minutes_ago), event_time=None,
                      hostname=hostname, rule_id=None if decision == "unhandled" else rule_id,
                      rule_name="" if decision == "unhandled" else "Link down", environment="prod",
                      decision=decision, forwarded=decision == "Page_and_ticket", team="NetOps",
                      correlation_id=f"c-{event_id}", event={"_id": event_id, "hostname": hostname, "message": message})


@pytest.fixture
def events(database_url):
    with session_scope() as session:
        session.add_all([
            row("e1", "core-router-01.dc1.example.com", "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down"),
            row("e2", "Core-Router-02.dc1.example.com", "%LINK-3-UPDOWN: Interface Gi0/2, changed state to up",
                decision="duplicate", minutes_ago=30),
            row("e3", "edge-sw-07.branch.example.com", "fan tray 2 failed", decision="unhandled", minutes_ago=90),
            row("e4", "edge-sw-08.branch.example.com", "Fan tray 1 OK", decision="unhandled", minutes_ago=60 * 30),
            row("e5", "lab_100%.example.com", "power supply redundancy lost", decision="silenced", minutes_ago=5),
        ])
    return database_url


def found(**args):
    with session_scope() as session:
        rows, page = queries.search_events(session, args)
    assert page.total == len(rows)
    return sorted(r["event_id"] for r in rows)


def test_host_by_part_or_start_of_the_name_whatever_its_case(events):
    assert found(host="ROUTER") == ["e1", "e2"]
    assert found(host="dc1.example") == ["e1", "e2"]
    assert found(host="core-router-02") == ["e2"]
    assert found(host="edge", host_match="prefix") == ["e3", "e4"]
    assert found(host="sw-07", host_match="prefix") == []
    assert found(host="co") == ["e1", "e2"]        # 1-2 characters: the start of the name
    assert found(host="_100%") == ["e5"]           # LIKE's wildcards are taken literally
    assert found(host="w_0") == []              # ("sw-07" would match the wildcard)
    assert found(hostname="edge-sw-07.branch.example.com") == ["e3"]   # exact, as v2.5's filter
    assert found(hostname="edge-sw-07") == []


def test_words_of_the_message_all_of_them_in_any_order_and_case(events):
    assert found(q="fan") == ["e3", "e4"]
    assert found(q="FAN failed") == ["e3"]
    assert found(q="failed tray") == ["e3"]
    assert found(q="interface gi0/1") == ["e1"]
    # PostgreSQL matches words ("down" is not a word of "UPDOWN"); SQLite, parts of words (ADR 0018)
    assert found(q="down") == (["e1"] if events.startswith("postgresql") else ["e1", "e2"])
    assert found(q="gi0/2") == ["e2"]
    assert found(q="nothing like this") == []
    assert found(q="fan", host="sw-08") == ["e4"]


def test_decision_whatever_its_case_and_the_last_so_long(events):
    assert found(decision="UNHANDLED") == ["e3", "e4"]
    assert found(decision="page_and_ticket") == ["e1"]
    assert found(decision="Silenced") == ["e5"]
    assert found(since="15m") == ["e1", "e5"]
    assert found(since="1h") == ["e1", "e2", "e5"]
    assert found(since="24h") == ["e1", "e2", "e3", "e5"]
    assert found(since="7d") == ["e1", "e2", "e3", "e4", "e5"]
    assert found(since="24h", decision="unhandled") == ["e3"]
    # with a start too, the later of the two bounds holds
    assert found(since="24h", start=(NOW - timedelta(minutes=10)).isoformat()) == ["e1", "e5"]
    assert found(since="15m", start=(NOW - timedelta(days=2)).isoformat()) == ["e1", "e5"]


def test_v25_lists_what_it_audited_matched_events_unless_asked_for_unhandled(events):
    with session_scope() as session:
        rows, _ = queries.search_events(session, {}, v25=True)
        unhandled, _ = queries.search_events(session, {"decision": "unhandled"}, v25=True)
    assert sorted(r["event_id"] for r in rows) == ["e1", "e2", "e5"]
    assert sorted(r["event_id"] for r in unhandled) == ["e3", "e4"]


def test_dead_lettered_events_are_searched_where_they_are(events):
    with session_scope() as session:
        dlq.record_many(session, dlq.EVENT, dlq.PROCESSING_FAILED, [
            ("d1", {"_id": "d1", "hostname": "core-router-09.dc1.example.com", "message": "bad\\u0000 value"}, "TypeError"),
            ("d2", {"_id": "d2", "hostname": "edge-sw-07.branch.example.com", "message": "fan tray 3"}, "ValueError"),
            ("d3", ["not", "an", "object"], "TypeError"),
        ], attempts=1)
    with session_scope() as session:
        rows, page = queries.search_events(session, {"decision": "Dead_Lettered", "host": "router"})
        everything, _ = queries.search_events(session, {"decision": "dead_lettered", "since": "15m"})
        fan, _ = queries.search_events(session, {"decision": "dead_lettered", "q": "FAN"})
    assert page.total == 1 and rows[0]["event_id"] == "d1" and rows[0]["decision"] == "dead_lettered"
    assert rows[0]["reason"] == "processing_failed" and rows[0]["dead_letter_id"] and not rows[0]["forwarded"]
    assert sorted(r["event_id"] for r in everything) == ["d1", "d2", "d3"]
    assert [r["event_id"] for r in fan] == ["d2"]
    assert "d1" not in found()   # the audit search proper does not list them


@pytest.mark.parametrize("args, message", [
    ({"since": "2h"}, "since must be one of 15m, 1h, 24h, 7d"),
    ({"host_match": "middle"}, "host_match must be one of contains, prefix"),
    ({"host": "x" * 256}, "host must be at most 255 characters"),
    ({"q": "word " * 50}, "q must be at most 200 characters"),
    ({"q": "nul\x00"}, "q must not contain NUL characters"),
    ({"decision": "d" * 101}, "decision must be at most 100 characters"),
    ({"start": "yesterday"}, "start must be an ISO 8601 date or time"),
    ({"limit": "1000"}, "limit"),
])
def test_a_bad_filter_is_refused_with_what_it_must_be(events, args, message):
    with session_scope() as session, pytest.raises(queries.QueryError, match=message):
        queries.search_events(session, args)


def test_the_ui_offers_the_decisions_the_alerter_writes():
    assert decide.UNHANDLED == queries.UNHANDLED and decide.UNHANDLED in decide.DECISIONS
    assert {"Page_and_ticket", "Ignore", "silenced", "duplicate"} <= set(decide.DECISIONS)


def test_on_postgresql_host_and_message_searches_use_indexes_on_every_partition(pg_url):
    with session_scope() as session:
        session.add_all([row("e1", "core-router-01", "link down"), row("e2", "core-router-01", "link up"),
                         row("e3", "edge-sw-07", "fan")])
    with session_scope() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        partitions = session.execute(text(
            "SELECT c.relname, i.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
            "JOIN pg_index x ON x.indrelid = c.oid JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_am a ON a.oid = i.relam WHERE h.inhparent = 'event_audit'::regclass AND a.amname = 'gin'")).all()
        by_partition: dict[str, int] = {}
        for partition, _ in partitions:
            by_partition[partition] = by_partition.get(partition, 0) + 1
        assert len(by_partition) >= 5 and set(by_partition.values()) == {len(EVENT_SEARCH_INDEXES)}
        hosts = session.scalars(text(queries.DISTINCT_HOSTS_LIKE), {"pattern": "%ROUTER%", "cap": 10}).all()
        assert hosts == ["core-router-01"]
        for statement in (f"SELECT * FROM event_audit WHERE {queries.MESSAGE_TSVECTOR} @@ websearch_to_tsquery('simple', 'link')",
                          "EXPLAIN " + queries.DISTINCT_HOSTS_LIKE.replace(":pattern", "'%x%'").replace(":cap", "10"),
                          "SELECT * FROM event_audit WHERE hostname IN ('core-router-01', 'edge-sw-07')"):
            explain = statement if statement.startswith("EXPLAIN") else "EXPLAIN " + statement
            plan = "\n".join(session.scalars(text(explain)))
            assert "Index" in plan and "Seq Scan" not in plan, plan


def test_on_postgresql_a_host_matching_too_many_names_is_refused(pg_url, monkeypatch):
    monkeypatch.setattr(queries, "MAX_HOSTS", 2)
    with session_scope() as session:
        session.add_all(row(f"e{i}", f"host-{i}", "x") for i in range(3))
    assert found(host="host-1") == ["e1"]
    with session_scope() as session, pytest.raises(queries.QueryError, match="matches more than 2 host names"):
        queries.search_events(session, {"host": "host"})


def test_on_postgresql_a_search_past_its_time_is_refused_with_what_to_do(pg_url, monkeypatch):
    paginate = queries._paginate

    def slow(session, *args):   # a search that takes longer than the database allows it
        session.execute(text("SELECT pg_sleep(1)"))
        return paginate(session, *args)

    monkeypatch.setattr(queries, "SEARCH_TIMEOUT_SECONDS", 0.1)
    monkeypatch.setattr(queries, "_paginate", slow)
    with session_scope() as session, pytest.raises(queries.QueryError, match="took longer than 0.1 s: narrow it"):
        queries.search_events(session, {"q": "link"})
    monkeypatch.setattr(queries, "_paginate", paginate)
    with session_scope() as session:   # the limit was the search's transaction's alone
        assert session.scalar(text("SHOW statement_timeout")) != "100ms"
