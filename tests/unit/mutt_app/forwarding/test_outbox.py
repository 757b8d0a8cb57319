from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, text

from mutt_app.forwarding import outbox
from mutt_app.storage import db
from tests.support.alerts import insert_alerts, states


@contextmanager
def statements(url):
    """The SQL statements (with their parameters) run on ``url``'s engine inside the block."""
    seen = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        if statement.lstrip().upper().startswith(("UPDATE", "SELECT")):
            seen.append((statement, parameters))

    engine = db.engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_backlog_of_pending_alerts_is_claimed_by_id_even_when_the_statistics_say_few_are_pending(pg_url):
    # Statistics taken in a quiet time (every alert delivered), then Moogsoft was down for a while.
    insert_alerts(20_000, state="delivered")
    with db.engine(pg_url).begin() as connection:
        connection.execute(text("ANALYZE alerts"))
    backlog = insert_alerts(3000)
    wanted = backlog[1000:1100]

    with statements(pg_url) as seen:
        with db.session_scope() as session:
            outbox.postpone(session, wanted, datetime.now(UTC) + timedelta(seconds=60))
            claimed = outbox.claim(session, wanted, lease_seconds=60)
        outbox.set_pending([alert.id for alert in claimed[:50]], 0.0, 45.0, uncount=True)
        outbox.mark_delivered([(alert.id, 202) for alert in claimed[50:]])

    assert states(wanted) == {"pending": 50, "delivered": 50}
    assert len(seen) == 4
    with db.engine(pg_url).connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        for statement, parameters in seen:
            plan = "\n".join(row[0] for row in cursor.execute("EXPLAIN " + statement, parameters).fetchall())
            assert "alerts_pkey" in plan and "ix_alerts_state" not in plan, plan
