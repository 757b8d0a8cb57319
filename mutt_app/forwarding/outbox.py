"""The alerts table as the forwarder's outbox: the SQL of an alert's states.

The contract with the alerter and the janitor: an alert is written ``pending`` (with a lease),
claimed with one ``UPDATE ... WHERE state = 'pending'`` (so a duplicate task finds nothing to
do) into ``sending``, then marked ``delivered``, put back to ``pending`` for a retry, or made
``dead`` with a dead letter. Every statement here is one of those moves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, ColumnElement, Row, Table, update
from sqlalchemy.orm import Session

from mutt_app import dynconfig
from mutt_app.forwarding import moog
from mutt_app.storage import db
from mutt_app.storage.models import Alert

# The table, not the mapped class: claimed alerts are plain rows (attributes named as on Alert),
# which spares the ORM's per-object work on the forwarder's hot path.
ALERTS = cast(Table, Alert.__table__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in_state(*states: str) -> ColumnElement[bool]:
    """The alert is in one of ``states``, checked row by row on the rows found by their ids.

    Written so that PostgreSQL cannot answer it from a (state, ...) index: with statistics taken
    while few alerts were pending, such an index looks cheaper than the primary key, and a backlog
    of pending alerts (Moogsoft was down) then cost every statement a scan of all of them.
    """
    return (ALERTS.c.state + "").in_(states)


# The forwarder's two statements of every task, as psycopg takes them on PostgreSQL: the ids as one
# binary array (``%(ids)b``; a text array is quoted element by element in Python) and no statement
# built by SQLAlchemy. Together that was two thirds of their client CPU (docs/performance.md). The
# state is tested as ``_in_state`` tests it, and for the same reason.
# The claim returns the alert's JSON documents (the event, the lifecycle) as the text PostgreSQL
# keeps, which the request body embeds as it is (moog.payload): psycopg's parse of the two
# documents was half the client CPU of a claimed alert, and the body encoded them again.
_RETURNED = ", ".join(f"{column.name}::text AS {column.name}" if isinstance(column.type, JSON) else column.name
                      for column in ALERTS.columns)
_CLAIM = ("UPDATE alerts SET state = 'sending', attempts = attempts + 1, lease_until = %(lease_until)s, "
          f"updated_at = %(now)s WHERE id = ANY(%(ids)b) AND (state || '') = 'pending' RETURNING {_RETURNED}")
_MARK_DELIVERED = ("UPDATE alerts SET state = 'delivered', last_status = %(status)s, last_error = '', lease_until = NULL, "
                   "delivered_at = %(now)s, updated_at = %(now)s WHERE id = ANY(%(ids)b) AND (state || '') IN ('sending', 'pending')")


def claim(session: Session, alert_ids: Sequence[str], lease_seconds: float) -> list[Row[Any]]:
    """Take the pending alerts among ``alert_ids`` for this worker, in the given order. On
    PostgreSQL their JSON documents are JSON text (``moog.payload`` takes either form)."""
    now = utcnow()
    values = {"lease_until": now + timedelta(seconds=lease_seconds), "now": now}
    if db.is_postgresql(session):
        rows = session.connection().exec_driver_sql(_CLAIM, {**values, "ids": list(alert_ids)}).all()
    else:
        rows = session.execute(
            update(ALERTS)
            .where(ALERTS.c.id.in_(alert_ids), _in_state("pending"))
            .values(state="sending", attempts=ALERTS.c.attempts + 1, lease_until=values["lease_until"], updated_at=now)
            .returning(ALERTS)
        ).all()
    claimed = {alert.id: alert for alert in rows}
    return [claimed[alert_id] for alert_id in alert_ids if alert_id in claimed]


def postpone(session: Session, alert_ids: Sequence[str], lease_until: datetime) -> list[str]:
    """Move the lease of the pending alerts among ``alert_ids`` (nothing else changes); returns
    them, in the given order."""
    moved = set(session.scalars(
        update(ALERTS)
        .where(db.among(session, ALERTS.c.id, alert_ids), _in_state("pending"))
        .values(lease_until=lease_until, updated_at=utcnow())
        .returning(ALERTS.c.id)
    ))
    return [alert_id for alert_id in alert_ids if alert_id in moved]


def set_pending(alerts: Iterable[str | Row[Any]], countdown: float, grace: float, *, uncount: bool) -> None:
    """Give claimed alerts back (``sending`` -> ``pending``), due in ``countdown`` seconds; with
    ``uncount``, their claim does not count (they were not sent)."""
    ids = [alert if isinstance(alert, str) else alert.id for alert in alerts]
    if not ids:
        return
    values: dict[str, Any] = {"state": "pending", "lease_until": utcnow() + timedelta(seconds=countdown + grace),
                              "updated_at": utcnow()}
    if uncount:
        values["attempts"] = ALERTS.c.attempts - 1
    with db.session_scope() as session:
        session.execute(update(ALERTS).where(db.among(session, ALERTS.c.id, ids), _in_state("sending")).values(**values))


def mark_delivered(delivered: Sequence[tuple[str, int | None]]) -> None:
    """Record delivered alerts (id, HTTP status), in one transaction."""
    if not delivered:
        return
    by_status: dict[int | None, list[str]] = {}
    for alert_id, status in delivered:
        by_status.setdefault(status, []).append(alert_id)
    now = utcnow()
    with db.session_scope() as session:
        postgresql = db.is_postgresql(session)
        for status, ids in by_status.items():
            if postgresql:
                session.connection().exec_driver_sql(_MARK_DELIVERED, {"ids": ids, "status": status, "now": now})
            else:
                session.execute(
                    update(ALERTS)
                    .where(ALERTS.c.id.in_(ids), _in_state("sending", "pending"))
                    .values(state="delivered", last_status=status, last_error="", lease_until=None,
                            delivered_at=now, updated_at=now)
                )


def finish(session: Session, alert_id: str, state: str, outcome: moog.Outcome, **values: Any) -> None:
    """Record a failed send's outcome: ``state`` is ``dead`` or ``pending`` (a retry)."""
    # Also from pending: a janitor that took the claim for dead must not undo a finished send.
    values.setdefault("lease_until", None)
    session.execute(
        update(ALERTS)
        .where(ALERTS.c.id == alert_id, _in_state("sending", "pending"))
        .values(state=state, last_status=outcome.status, last_error=outcome.error, updated_at=utcnow(), **values)
    )


def reopen(session: Session, alert_ids: list[str]) -> list[str]:
    """Make dead alerts pending again (operator replay); returns those reopened.

    The caller commits, then hands the ids to the forwarder (``mutt_app.handoff.forward_alerts``).
    The claim count starts again, so the janitor's crash cap applies afresh.
    """
    if not alert_ids:
        return []
    grace = float(dynconfig.get("janitor_stuck_after_seconds"))
    statement = (
        update(ALERTS)
        .where(db.among(session, ALERTS.c.id, alert_ids), _in_state("dead"))
        .values(state="pending", attempts=0, last_error="", lease_until=utcnow() + timedelta(seconds=grace),
                updated_at=utcnow())
        .returning(ALERTS.c.id)
    )
    return list(session.scalars(statement))
