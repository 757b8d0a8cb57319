"""Bulk writes that skip what exists (what makes a redelivered batch harmless), on SQLite and
PostgreSQL: the same rows; the count of rows written where the driver gives it (SQLite)."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select

from mutt_app.storage import db
from mutt_app.storage.models import DeadLetter, EventAudit

AUDIT = EventAudit.__table__


def audit_rows(count: int, **overrides) -> list[dict]:
    now = datetime.now(UTC)
    return [dict(event_id=uuid.uuid4().hex, received_at=now, event_time=now, hostname=f"router-{n}", rule_id=n,
                 rule_name="link down", environment="prod", decision="page_only", forwarded=True, team="NETO",
                 correlation_id=f"corr-{n}", event={"hostname": f"router-{n}", "message": f"link down é {n}", "n": n},
                 **overrides) for n in range(count)]


@pytest.mark.parametrize("count", [1, 120])
def test_rows_are_written_once_with_their_types_and_counted(database_url, count):
    told = (lambda n: n) if database_url.startswith("sqlite") else (lambda n: None)
    rows = audit_rows(count)
    with db.session_scope() as session:
        assert db.insert_ignoring_duplicates(session, AUDIT, rows) == told(count)
    with db.session_scope() as session:  # a redelivered batch, with some new rows
        assert db.insert_ignoring_duplicates(session, AUDIT, rows + audit_rows(2)) == told(2)
    with db.session_scope() as session:
        stored = {row.event_id: row for row in session.scalars(select(EventAudit))}
    assert len(stored) == count + 2
    first = stored[rows[-1]["event_id"]]
    assert first.event == rows[-1]["event"] and first.rule_id == count - 1 and first.forwarded is True
    assert first.received_at == rows[-1]["received_at"] and first.received_at.tzinfo is not None


def test_columns_the_rows_leave_out_get_their_python_or_server_defaults(database_url):
    count = 60
    letters = [dict(kind="event", ref_id=f"ref-{n}", reason="processing_failed", payload={"n": n}) for n in range(count)]
    with db.session_scope() as session:
        db.insert_ignoring_duplicates(session, DeadLetter.__table__, letters)
    with db.session_scope() as session:
        stored = list(session.scalars(select(DeadLetter)))
    assert len({letter.id for letter in stored}) == count  # the server's sequence
    assert {(letter.state, letter.attempts, letter.error) for letter in stored} == {("waiting", 0, "")}
    assert all(letter.first_failed_at is not None for letter in stored)


def test_an_action_failing_after_the_commit_is_logged_and_reported_and_the_others_still_run(sqlite_url, caplog):
    ran = []

    def unreachable():
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    with db.session_scope() as session:
        db.insert_ignoring_duplicates(session, AUDIT, audit_rows(1))
        db.on_commit(session, lambda: ran.append("first"))
        db.on_commit(session, unreachable)
        db.on_commit(session, lambda: ran.append("last"))
    # no InvalidRequestError from a rollback after the commit: the commit stands
    assert ran == ["first", "last"]
    [failure] = db.after_commit_failures(session)
    assert "unreachable: ConnectionError: Error 111 connecting to 127.0.0.1:1" in failure
    assert "failed after the commit" in caplog.text and "Connection refused" in caplog.text
    with db.session_scope() as session:
        assert len(session.scalars(select(EventAudit)).all()) == 1
        assert db.after_commit_failures(session) == []


def test_a_new_sqlite_database_and_its_wal_are_readable_by_their_owner_only(tmp_path):
    import os

    url = f"sqlite:///{tmp_path / 'mutt.db'}"
    before = os.umask(0o022)  # the common umask, under which a plain create is readable by everyone
    try:
        with db.session_scope(url) as session:
            session.execute(select(1))
            session.connection().exec_driver_sql("CREATE TABLE secrets (digest TEXT)")
            session.connection().exec_driver_sql("INSERT INTO secrets VALUES ('x')")
    finally:
        os.umask(before)
        db.engine(url).dispose()
    modes = {path.name: path.stat().st_mode & 0o777 for path in tmp_path.iterdir()}
    assert modes.pop("mutt.db") == 0o600
    assert set(modes.values()) <= {0o600}  # -wal, -shm while open


@pytest.mark.parametrize("count", [1, 150])
def test_rows_naming_every_column_are_written_once_in_one_statement(database_url, count):
    """The event audit's write (PostgreSQL: one INSERT ... SELECT FROM unnest per batch): the same
    rows, types and NULLs as the executemany, a redelivery adds only what is new, a value too long
    is refused (not cut), and a NUL the JSON column cannot hold is refused too (the alerter then
    writes event by event and dead-letters it)."""
    from sqlalchemy.exc import StatementError

    rows = audit_rows(count, alert_id=None, silence_id=None)
    rows[0].update(event_time=None, rule_id=None, event={"message": "naïve ✓", "nested": {"list": [1, None, "x"]}})
    with db.session_scope() as session:
        db.insert_columns_ignoring_duplicates(session, AUDIT, rows)
    with db.session_scope() as session:
        db.insert_columns_ignoring_duplicates(session, AUDIT, rows + audit_rows(2, alert_id=7, silence_id=3))
    with db.session_scope() as session:
        stored = {row.event_id: row for row in session.scalars(select(EventAudit))}
    assert len(stored) == count + 2
    first, last = stored[rows[0]["event_id"]], stored[rows[-1]["event_id"]]
    assert (first.event_time, first.rule_id, first.alert_id, first.silence_id) == (None, None, None, None)
    assert first.event == {"message": "naïve ✓", "nested": {"list": [1, None, "x"]}}
    assert last.event == rows[-1]["event"] and last.received_at == rows[-1]["received_at"] and last.forwarded is True
    assert sorted((row.alert_id, row.silence_id) for row in stored.values() if row.alert_id) == [(7, 3), (7, 3)]
    if database_url.startswith("sqlite"):
        return  # SQLite stores either
    for bad in ({"event_id": "x" * 37}, {"event": {"message": "nul \u0000"}}):
        refused = audit_rows(2, alert_id=None, silence_id=None)
        refused[1].update(bad)
        with pytest.raises(StatementError), db.session_scope() as session:
            db.insert_columns_ignoring_duplicates(session, AUDIT, refused)


def state_rows(*signatures: str, occurrences: int = 0) -> list[dict]:
    now = datetime.now(UTC)
    return [dict(signature=signature, kind="rule", state="open", flapping=False, flapping_since=None, rule_id=1,
                 rule_name="link down", hostname="router-1", key="", team="NETO", severity=3, environment="prod",
                 description="link down", occurrences=occurrences, first_seen=now, last_seen=now, last_event_time=None,
                 changed_at=now, transitions=None, last_sent_at=None, last_sent_state="", last_event_id="",
                 created_at=now, updated_at=now) for signature in signatures]


def test_rows_are_locked_in_key_order_created_where_missing_and_updated_in_one_statement(database_url):
    """The alert states' write (PostgreSQL: one upsert and one UPDATE ... FROM unnest per batch):
    an existing row comes back as it is, a missing one is created, every column comes back in the
    key's order, and an update sets exactly the columns given, JSON and times included."""
    from mutt_app.storage.models import AlertState

    states = AlertState.__table__
    with db.session_scope() as session:
        db.lock_or_insert(session, states, state_rows("b", occurrences=5), key="signature")
    with db.session_scope() as session:
        rows = db.lock_or_insert(session, states, state_rows("c", "a", "b"), key="signature")
    assert [(row["signature"], row["occurrences"]) for row in rows] == [("a", 0), ("b", 5), ("c", 0)]
    assert len({row["id"] for row in rows}) == 3 and rows[1]["first_seen"].tzinfo is not None
    later = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    with db.session_scope() as session:
        db.update_by_key(session, states, [
            {"id": rows[0]["id"], "occurrences": 2, "transitions": [later.isoformat()], "last_sent_at": later},
            {"id": rows[2]["id"], "occurrences": 7, "transitions": None, "last_sent_at": None},
        ])
    with db.session_scope() as session:
        stored = {row.signature: row for row in session.scalars(select(AlertState))}
    assert [(s, stored[s].occurrences, stored[s].transitions, stored[s].last_sent_at) for s in "abc"] == [
        ("a", 2, [later.isoformat()], later), ("b", 5, None, None), ("c", 7, None, None)]


def test_json_documents_are_stored_exactly_including_what_orjson_cannot_encode(database_url):
    documents = [
        {"message": "link down é", "n": 7, "nested": {"list": [1, 2.5, None, True]}},
        {"message": "counter64 and more", "counter": 2**80},           # beyond 64 bits: the json module's
        {"message": "broken \ud800 escape"} if database_url.startswith("sqlite") else {"message": "plain"},
    ]
    rows = audit_rows(len(documents), alert_id=None, silence_id=None)
    for row, document in zip(rows, documents, strict=True):
        row["event"] = document
    with db.session_scope() as session:
        db.insert_columns_ignoring_duplicates(session, AUDIT, rows)
    with db.session_scope() as session:
        stored = {row.event_id: row.event for row in session.scalars(select(EventAudit))}
    assert [stored[row["event_id"]] for row in rows] == documents


def _backend_pid(connection) -> int:
    return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def test_a_pooled_connection_that_died_while_idle_is_replaced_before_it_is_handed_out(pg_url, monkeypatch):
    engine = db.engine(pg_url)
    with engine.connect() as connection:
        dead = _backend_pid(connection)
    outside = create_engine(pg_url)   # not the pool's: the connection to kill stays in the pool
    with outside.connect() as other:
        other.exec_driver_sql(f"SELECT pg_terminate_backend({dead})")   # the server restarted under the pool
    outside.dispose()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    with engine.connect() as connection:
        replaced = _backend_pid(connection)
    assert replaced != dead


def test_a_connection_back_in_the_pool_a_moment_ago_goes_out_without_a_round_trip(pg_url, monkeypatch):
    engine = db.engine(pg_url)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(connection) or real_ping(connection))
    for _ in range(5):
        with db.session_scope() as session:
            session.connection().exec_driver_sql("SELECT 1")
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)   # idle long enough
    with db.session_scope() as session:
        session.connection().exec_driver_sql("SELECT 1")
    assert len(pings) == 1
