"""Bulk writes that skip what exists: on PostgreSQL from COPY_FROM_ROWS rows by COPY through a
staging table, otherwise one INSERT; on SQLite always the INSERT. Both must write the same rows."""

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError

from mutt_app import alerter, db
from mutt_app.models import Alert, DeadLetter, EventAudit

AUDIT = EventAudit.__table__


def audit_rows(count: int, **overrides) -> list[dict]:
    now = datetime.now(timezone.utc)
    return [dict(event_id=uuid.uuid4().hex, received_at=now, event_time=now, hostname=f"router-{n}", rule_id=n,
                 rule_name="link down", environment="prod", decision="page_only", forwarded=True, team="NETO",
                 correlation_id=f"corr-{n}", event={"hostname": f"router-{n}", "message": f"link down é {n}", "n": n},
                 **overrides) for n in range(count)]


@pytest.mark.parametrize("count", [3, db.COPY_FROM_ROWS + 70])
def test_rows_are_written_once_with_their_types_whatever_the_path(database_url, count):
    rows = audit_rows(count)
    with db.session_scope() as session:
        assert db.insert_ignoring_duplicates(session, AUDIT, rows) == count
    with db.session_scope() as session:  # a redelivered batch, with some new rows
        assert db.insert_ignoring_duplicates(session, AUDIT, rows + audit_rows(2)) == 2
    with db.session_scope() as session:
        stored = {row.event_id: row for row in session.scalars(select(EventAudit))}
    assert len(stored) == count + 2
    first = stored[rows[-1]["event_id"]]
    assert first.event == rows[-1]["event"] and first.rule_id == count - 1 and first.forwarded is True
    assert first.received_at == rows[-1]["received_at"] and first.received_at.tzinfo is not None


def test_columns_the_rows_leave_out_get_their_python_or_server_defaults(database_url):
    count = db.COPY_FROM_ROWS
    letters = [dict(kind="event", ref_id=f"ref-{n}", reason="processing_failed", payload={"n": n}) for n in range(count)]
    with db.session_scope() as session:
        assert db.insert_ignoring_duplicates(session, DeadLetter.__table__, letters) == count
    with db.session_scope() as session:
        stored = list(session.scalars(select(DeadLetter)))
    assert len({letter.id for letter in stored}) == count  # the server's sequence
    assert {(letter.state, letter.attempts, letter.error) for letter in stored} == {("waiting", 0, "")}
    assert all(letter.first_failed_at is not None for letter in stored)


def test_a_value_postgresql_refuses_raises_what_an_insert_would_and_the_next_write_works(pg_url):
    db.dispose_all()  # a new connection: its staging table is created in the transaction that fails
    bad = audit_rows(db.COPY_FROM_ROWS)
    bad[7]["event"] = {"message": "a NUL \u0000 JSONB cannot hold"}
    with pytest.raises(DataError) as refusal:
        with db.session_scope() as session:
            db.insert_ignoring_duplicates(session, AUDIT, bad)
    assert alerter.refused(refusal.value)  # so the alerter writes the batch event by event
    good = audit_rows(db.COPY_FROM_ROWS)
    with db.session_scope() as session:
        assert db.insert_ignoring_duplicates(session, AUDIT, good) == len(good)
    with db.session_scope() as session:
        assert session.query(EventAudit).count() == len(good)


def test_alerts_written_by_copy_are_what_the_forwarder_reads(pg_url):
    from tests.support.alerts import alerts, insert_alerts

    ids = insert_alerts(db.COPY_FROM_ROWS + 1)
    rows = alerts(ids)
    assert {a.state for a in rows.values()} == {"pending"} and all(a.lease_until.tzinfo for a in rows.values())
    with db.session_scope() as session:
        assert session.scalar(select(Alert.event).where(Alert.id == ids[3]))["_id"] == ids[3]
