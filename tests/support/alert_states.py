"""Alerts (AlertState rows) and their audited events, written directly, for the tests of where
operators see alerts (the pipeline's own writing is tested with the lifecycle)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from mutt_app.storage import db
from mutt_app.storage.models import AlertState, EventAudit

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def add_alert(hostname: str = "router1", *, state: str = "open", rule_id: int = 7, seen_minutes_ago: float = 0,
              **overrides) -> int:
    """One alert, last seen ``seen_minutes_ago`` before NOW; returns its id."""
    last_seen = NOW - timedelta(minutes=seen_minutes_ago)
    key = overrides.pop("key", uuid.uuid4().hex[:8])
    fields = dict(
        signature=f"mutt:rule:{rule_id}:{hostname}:{key}", state=state, rule_id=rule_id, rule_name="Link down",
        hostname=hostname, key=key, team="NETO", severity=4, environment="prod",
        description=f"{hostname}: Interface {key}, changed state to down", occurrences=1,
        first_seen=last_seen - timedelta(hours=1), last_seen=last_seen, changed_at=last_seen,
    )
    row = AlertState(**{**fields, **overrides})
    with db.session_scope() as session:
        session.add(row)
        session.flush()
        return row.id


def audit_events(alert_id: int, count: int, *, hostname: str = "router1", decision: str = "Page_only") -> list[str]:
    """``count`` audited events of an alert, one a minute up to NOW; returns their ids, oldest first."""
    ids = []
    with db.session_scope() as session:
        for n in range(count):
            event_id = uuid.uuid4().hex
            received = NOW - timedelta(minutes=count - 1 - n)
            session.add(EventAudit(
                event_id=event_id, received_at=received, event_time=received, hostname=hostname, rule_id=7,
                rule_name="Link down", environment="prod", decision=decision, forwarded=n == 0, team="NETO",
                correlation_id=f"corr-{n}", event={"hostname": hostname, "message": f"link down #{n}"}, alert_id=alert_id,
            ))
            ids.append(event_id)
    return ids


def audit_event(decision: str = "Page_only", *, forwarded: bool = True, alert_id: int | None = None,
                silence_id: int | None = None, minutes_ago: int = 0) -> str:
    """One event-audit row received ``minutes_ago`` before NOW; returns its event id."""
    event_id = uuid.uuid4().hex
    with db.session_scope() as session:
        session.add(EventAudit(
            event_id=event_id, received_at=NOW - timedelta(minutes=minutes_ago), event_time=None, hostname="router1",
            rule_id=7, rule_name="Link down", environment="prod", decision=decision, forwarded=forwarded,
            team="NETO", correlation_id="c", event={"hostname": "router1", "message": "link down"},
            alert_id=alert_id, silence_id=silence_id,
        ))
    return event_id
