"""Alert rows as the alerter writes them (pending, leased), for the forwarding tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mutt_app.storage import db
from mutt_app.storage.models import Alert, DeadLetter


def insert_alerts(count: int, **overrides) -> list[str]:
    """Insert ``count`` pending alerts; returns their ids in order."""
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        alert_id = uuid.uuid4().hex
        row = dict(
            id=alert_id, kind="rule", state="pending", rule_id=1, rule_name="link down", hostname=f"host-{n}",
            team="NETO", severity=4, decision="page_only", environment="prod", signature=f"sig-{n}",
            description=f"link down {n}", event_time=now, correlation_id=f"corr-{alert_id[:8]}",
            event={"_id": alert_id, "hostname": f"host-{n}", "message": f"link down {n}"},
            attempts=0, lease_until=now + timedelta(seconds=45), last_error="", created_at=now, updated_at=now,
        )
        row.update(overrides)
        rows.append(row)
    with db.session_scope() as session:
        db.insert_ignoring_duplicates(session, Alert.__table__, rows)
    return [row["id"] for row in rows]


def alerts(ids: list[str] | None = None) -> dict[str, Alert]:
    with db.session_scope() as session:
        query = select(Alert) if ids is None else select(Alert).where(Alert.id.in_(ids))
        return {alert.id: alert for alert in session.scalars(query)}


def states(ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for alert in alerts(ids).values():
        counts[alert.state] = counts.get(alert.state, 0) + 1
    return counts


def dead_letters() -> dict[str, DeadLetter]:
    with db.session_scope() as session:
        return {letter.ref_id: letter for letter in session.scalars(select(DeadLetter))}
