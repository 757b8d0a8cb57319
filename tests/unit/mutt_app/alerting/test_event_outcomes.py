"""What became of audited events: each audit row followed to its request to Moogsoft and its dead
letter, a page at a time in a fixed number of queries (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import event as sa_event

from mutt_app.alerting import event_outcomes
from mutt_app.audit import queries
from mutt_app.dead_letters import dlq
from mutt_app.storage import db
from mutt_app.storage.db import session_scope
from tests.support.alert_states import NOW, add_alert
from tests.support.alert_states import audit_event as audit
from tests.support.alerts import insert_alerts


def letter(kind: str, ref_id: str, reason: str, *, last_status: int | None = None, attempts: int = 0) -> int:
    with session_scope() as session:
        dlq.record(session, kind, ref_id, reason, error="boom", payload={"hostname": "router1"},
                   attempts=attempts, last_status=last_status)
    with session_scope() as session:
        return next(found.id for found in dlq.list_dead_letters(session, kind=kind).items if found.ref_id == ref_id)


def outcomes(*event_ids: str) -> dict[str, dict]:
    """The outcome of each event, read the way the API and the page read them (newest first)."""
    with session_scope() as session:
        rows, _page = queries.search_events(session, {"limit": "200"})
        event_outcomes.attach(session, rows)
    shown = {row["event_id"]: row["outcome"] for row in rows}
    return {event_id: shown[event_id] for event_id in event_ids}


def test_each_kind_of_outcome_with_what_it_links_to(redis, database_url):
    alert = add_alert("router1")
    delivered = audit(alert_id=alert)
    insert_alerts(1, id=delivered, state="delivered", attempts=1, last_status=202, delivered_at=NOW)
    retrying = audit(alert_id=alert)
    insert_alerts(1, id=retrying, state="pending", attempts=3, last_status=503, last_error="HTTP 503 from Moogsoft")
    pending = audit(alert_id=alert)
    insert_alerts(1, id=pending)
    sending = audit(alert_id=alert)
    insert_alerts(1, id=sending, state="sending", attempts=1)
    dead = audit(alert_id=alert)
    insert_alerts(1, id=dead, state="dead", attempts=8, last_status=503)
    dead_letter = letter(dlq.ALERT, dead, dlq.RETRIES_EXHAUSTED, last_status=503, attempts=8)
    silenced = audit("silenced", forwarded=False, silence_id=4)
    duplicate = audit("duplicate", forwarded=False, alert_id=alert)
    flapping = audit("flapping", forwarded=False, alert_id=alert)
    ignored = audit("Ignore", forwarded=False)

    found = outcomes(delivered, retrying, pending, sending, dead, silenced, duplicate, flapping, ignored)

    expected = {"status": "delivered", "http_status": 202, "delivered_at": NOW.isoformat(), "alert_id": alert,
                "delivery_id": delivered, "dead_letter_id": None}
    assert {key: found[delivered][key] for key in expected} == expected
    assert found[delivered]["summary"] == "delivered 2026-12-01 12:00:00 UTC, HTTP 202"
    assert (found[retrying]["status"], found[retrying]["attempts"], found[retrying]["http_status"]) == ("retrying", 3, 503)
    assert found[retrying]["last_error"] == "HTTP 503 from Moogsoft"
    assert found[retrying]["summary"] == "retrying after 3 attempts, HTTP 503"
    assert (found[pending]["status"], found[pending]["attempts"]) == ("pending", 0)
    assert found[sending]["status"] == "sending"
    # the case of the issue: the audit says forwarded, the outcome names the dead letter
    assert found[dead]["status"] == "dead_letter" and found[dead]["dead_letter_id"] == dead_letter
    assert (found[dead]["dead_letter_reason"], found[dead]["http_status"], found[dead]["attempts"]) == (
        "retries_exhausted", 503, 8)
    assert found[dead]["summary"] == f"dead letter {dead_letter} (retries_exhausted, HTTP 503)"
    assert (found[silenced]["status"], found[silenced]["silence_id"]) == ("silenced", 4)
    assert (found[duplicate]["status"], found[duplicate]["alert_id"]) == ("duplicate", alert)
    assert found[duplicate]["summary"] == f"duplicate of alert {alert}"
    assert (found[flapping]["status"], found[flapping]["summary"]) == ("held", f"not sent: flapping (alert {alert})")
    assert (found[ignored]["status"], found[ignored]["summary"]) == ("not_forwarded", "not forwarded (Ignore)")
    assert set(found[ignored]) == set(found[delivered])  # one shape: every key, null when it does not apply


def test_a_replayed_dead_letter_is_named_beside_the_retry_and_the_delivery(redis, database_url):
    retried, delivered = audit(), audit()
    insert_alerts(1, id=retried, state="pending", attempts=0)
    insert_alerts(1, id=delivered, state="delivered", attempts=1, last_status=200, delivered_at=NOW)
    first = letter(dlq.ALERT, retried, dlq.WORKER_LOST)
    second = letter(dlq.ALERT, delivered, dlq.RETRIES_EXHAUSTED)
    found = outcomes(retried, delivered)
    assert (found[retried]["status"], found[retried]["dead_letter_id"]) == ("pending", first)
    assert found[retried]["summary"] == f"pending (replayed from dead letter {first})"
    assert (found[delivered]["status"], found[delivered]["dead_letter_id"]) == ("delivered", second)


def test_gone_records_are_said_plainly(redis, database_url):
    purged = audit()
    insert_alerts(1, id=purged, state="dead", attempts=2, last_status=400)
    retention = audit()   # forwarded, but its outbox row was removed
    unprocessed = audit("Page_only", forwarded=True)
    event_letter = letter(dlq.EVENT, unprocessed, dlq.PROCESSING_FAILED)
    found = outcomes(purged, retention, unprocessed)
    assert (found[purged]["status"], found[purged]["dead_letter_id"]) == ("dead_letter", None)
    assert found[purged]["summary"] == "not delivered, HTTP 400; its dead letter was purged"
    assert found[retention]["status"] == "no_record"
    assert (found[unprocessed]["status"], found[unprocessed]["dead_letter_id"]) == ("dead_letter", event_letter)


def test_a_page_costs_two_queries_whatever_its_size(redis, database_url):
    for n in range(30):
        event_id = audit(minutes_ago=n)
        insert_alerts(1, id=event_id, state=("delivered", "dead", "pending")[n % 3])
        if n % 3 == 1:
            letter(dlq.ALERT, event_id, dlq.MOOG_REJECTED)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with session_scope() as session:
        rows, _page = queries.search_events(session, {"limit": "200"})
        engine = db.engine(database_url)
        sa_event.listen(engine, "before_cursor_execute", count)
        try:
            found = event_outcomes.for_rows(session, rows)
        finally:
            sa_event.remove(engine, "before_cursor_execute", count)
    assert len(found) == 30 and len(statements) == 2
    assert sorted({outcome.status for outcome in found}) == ["dead_letter", "delivered", "pending"]
    with session_scope() as session:
        assert event_outcomes.for_rows(session, []) == []


def test_an_alerts_page_shows_the_outcome_of_each_of_its_events(redis, database_url):
    from mutt_app.alerting import alert_queries

    alert = add_alert("router1")
    dead = audit(alert_id=alert)
    insert_alerts(1, id=dead, state="dead", attempts=8, last_status=503)
    dead_letter = letter(dlq.ALERT, dead, dlq.RETRIES_EXHAUSTED, last_status=503)
    duplicate = audit("duplicate", forwarded=False, alert_id=alert, minutes_ago=1)
    with session_scope() as session:
        events = {event["event_id"]: event for event in alert_queries.detail(session, alert)["events"]}
    assert (events[dead]["outcome"]["status"], events[dead]["outcome"]["dead_letter_id"]) == ("dead_letter", dead_letter)
    assert events[duplicate]["outcome"]["status"] == "duplicate"
