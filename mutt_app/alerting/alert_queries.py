"""Where operators see alerts: the alerts (``AlertState`` rows) filtered and paged, and one alert
with its recent events (event-audit rows by ``alert_id``, each with its outcome) and its deliveries to Moogsoft (outbox
rows by signature). Read only; the API, the UI and `mutt alerts` call these.

Filters arrive as strings (query parameters, form fields, command options); a bad one raises
``InvalidInput`` naming the field. Open alerts come first, then the most recently seen; pages
are keyset pages: ``next_cursor`` names where the following page starts, so a page stays right
while new alerts arrive and a deep page costs what the first one does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from mutt_app.alerting import event_outcomes
from mutt_app.audit import queries
from mutt_app.core import params
from mutt_app.errors import InvalidInput, NotFound
from mutt_app.storage.models import Alert, AlertState, EventAudit

STATES = ("open", "cleared", "flapping")  # flapping is the flag, whatever the state
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_HOST = 255          # the hostname column's width
RECENT_EVENTS = 50      # events shown with one alert, newest first
RECENT_DELIVERIES = 20  # deliveries shown with one alert, newest first

_CURSOR = re.compile(r"([01])\.([0-9]{1,18})\.([0-9]{1,19})\Z", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 0 for open alerts, 1 for cleared: the first key of the order
_RANK = case((AlertState.state == "open", 0), else_=1)


class AlertNotFound(NotFound):
    pass


@dataclass(frozen=True)
class AlertFilter:
    state: str | None = None
    host: str | None = None     # exact, or a prefix when it ends with "*"; any case
    rule_id: int | None = None
    since: str | None = None    # last seen within the last 15m, 1h, 24h or 7d (params.TIME_RANGES)

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> AlertFilter:
        """The filter a request's query (or a form, or the CLI's options) asks for; blanks are absent."""
        state = _text(args, "state").lower() or None
        if state is not None and state not in STATES:
            raise InvalidInput(f"state must be one of {', '.join(STATES)}, got {state[:40]!r}")
        host = _text(args, "host") or None
        if host is not None:
            if len(host) > MAX_HOST:
                raise InvalidInput(f"host must be at most {MAX_HOST} characters")
            if "*" in host[:-1] or host == "*":
                raise InvalidInput("host: a name, or the start of one followed by * (edge-*); * only at the end")
        rule_id = params.whole_number(args.get("rule_id"), "rule_id", default=None, minimum=1, maximum=params.MAX_INT32)
        since = _text(args, "since").lower() or None
        params.time_range_start(since)
        return cls(state, host, rule_id, since)

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.state == "flapping":
            found.append(AlertState.flapping.is_(True))
        elif self.state is not None:
            found.append(AlertState.state == self.state)
        if self.host is not None:
            hostname = func.lower(AlertState.hostname)
            if self.host.endswith("*"):
                start = self.host[:-1].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                found.append(hostname.like(start + "%", escape="\\"))
            else:
                found.append(hostname == self.host.lower())
        if self.rule_id is not None:
            found.append(AlertState.rule_id == self.rule_id)
        recent = params.time_range_start(self.since)
        if recent is not None:
            found.append(AlertState.last_seen >= recent)
        return found


@dataclass(frozen=True)
class AlertPage:
    alerts: list[dict[str, Any]]
    limit: int
    total: int                 # alerts the filter matches, on every page
    next_cursor: str | None    # where the following page starts; None on the last page

    def to_dict(self) -> dict[str, Any]:
        return {"alerts": self.alerts,
                "pagination": {"limit": self.limit, "total": self.total, "next_cursor": self.next_cursor}}


def search(session: Session, args: Mapping[str, Any]) -> AlertPage:
    """``list_alerts`` with everything (state, host, rule_id, since, limit, cursor) as the caller got it."""
    limit = params.whole_number(args.get("limit"), "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    return list_alerts(session, AlertFilter.from_args(args), limit=limit, cursor=_text(args, "cursor") or None)


def list_alerts(session: Session, where: AlertFilter, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> AlertPage:
    """One page of alerts: open first, then the most recently seen (ties: the newest id)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    matching = select(AlertState).where(*where.conditions())
    total = session.scalar(select(func.count()).select_from(matching.subquery())) or 0
    if cursor is not None:
        matching = matching.where(_after(cursor))
    rows = list(session.scalars(
        matching.order_by(_RANK, AlertState.last_seen.desc(), AlertState.id.desc()).limit(limit + 1)))
    following = _cursor(rows[limit - 1]) if len(rows) > limit else None
    return AlertPage([as_dict(row) for row in rows[:limit]], limit, total, following)


def counts(session: Session) -> dict[str, int]:
    """Open alerts, and alerts flapping (in any state): the dashboard's tile."""
    open_count = session.scalar(select(func.count()).select_from(AlertState).where(AlertState.state == "open")) or 0
    flapping = session.scalar(select(func.count()).select_from(AlertState).where(AlertState.flapping.is_(True))) or 0
    return {"open": open_count, "flapping": flapping}


def detail(session: Session, alert_id: int) -> dict[str, Any]:
    """One alert with its newest events and deliveries, and how many of each there are in all."""
    alert = session.get(AlertState, alert_id)
    if alert is None:
        raise AlertNotFound(f"no alert with id {alert_id}")
    events = session.scalars(select(EventAudit).where(EventAudit.alert_id == alert.id)
                             .order_by(EventAudit.received_at.desc(), EventAudit.event_id.desc()).limit(RECENT_EVENTS))
    deliveries = session.scalars(select(Alert).where(Alert.signature == alert.signature)
                                 .order_by(Alert.created_at.desc(), Alert.id.desc()).limit(RECENT_DELIVERIES))
    shown = event_outcomes.attach(session, [_event(row) for row in events])  # what became of each: delivered, ...
    return {
        **as_dict(alert),
        "events": shown,
        "events_total": session.scalar(select(func.count()).select_from(EventAudit)
                                       .where(EventAudit.alert_id == alert.id)) or 0,
        "deliveries": [_delivery(row) for row in deliveries],
        "deliveries_total": session.scalar(select(func.count()).select_from(Alert)
                                           .where(Alert.signature == alert.signature)) or 0,
    }


def as_dict(alert: AlertState) -> dict[str, Any]:
    """The JSON shape of an alert (API, CLI, UI)."""
    return {
        "id": alert.id, "signature": alert.signature, "kind": alert.kind, "state": alert.state,
        "flapping": alert.flapping, "flapping_since": _iso(alert.flapping_since), "rule_id": alert.rule_id,
        "rule_name": alert.rule_name, "hostname": alert.hostname, "key": alert.key, "team": alert.team,
        "severity": alert.severity, "environment": alert.environment, "description": alert.description,
        "occurrences": alert.occurrences, "first_seen": _iso(alert.first_seen), "last_seen": _iso(alert.last_seen),
        "changed_at": _iso(alert.changed_at), "last_sent_at": _iso(alert.last_sent_at),
        "last_sent_state": alert.last_sent_state,
    }


def _event(row: EventAudit) -> dict[str, Any]:
    # Without the stored event: fifty whole events could make a large answer; the event audit has them.
    shown = queries.event_to_dict(row)
    del shown["event"]
    return shown


def _delivery(row: Alert) -> dict[str, Any]:
    return {
        "id": row.id, "state": row.state, "severity": row.severity, "attempts": row.attempts,
        "last_status": row.last_status, "last_error": (row.last_error or "")[:300], "decision": row.decision,
        "created_at": _iso(row.created_at), "delivered_at": _iso(row.delivered_at),
    }


def _cursor(row: AlertState) -> str:
    since_epoch = row.last_seen - _EPOCH
    microseconds = (since_epoch.days * 86_400 + since_epoch.seconds) * 1_000_000 + since_epoch.microseconds
    return f"{0 if row.state == 'open' else 1}.{microseconds}.{row.id}"


def _after(cursor: str) -> ColumnElement[bool]:
    """The alerts that come after the one a cursor names, in the list's order."""
    found = _CURSOR.match(cursor)
    if found is None:
        raise InvalidInput("cursor must be a next_cursor from a previous page")
    rank, microseconds, alert_id = int(found[1]), int(found[2]), int(found[3])
    try:
        last_seen = _EPOCH + timedelta(microseconds=microseconds)
    except OverflowError:
        last_seen = None
    if last_seen is None or alert_id > params.MAX_WHOLE:
        raise InvalidInput("cursor must be a next_cursor from a previous page")
    return or_(
        _RANK > rank,
        and_(_RANK == rank, AlertState.last_seen < last_seen),
        and_(_RANK == rank, AlertState.last_seen == last_seen, AlertState.id < alert_id),
    )


def _text(args: Mapping[str, Any], name: str) -> str:
    raw = args.get(name)
    return "" if raw is None else params.text(raw, name).strip()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
