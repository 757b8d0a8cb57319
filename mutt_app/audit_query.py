"""Searching the event audit (what rules decided) and the config audit (who changed what).

Filters arrive as strings (query parameters, form fields); a bad one raises ``QueryError``
with a message for the caller. Newest first, paginated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mutt_app import params
from mutt_app.models import ConfigAudit, EventAudit

MAX_LIMIT = 200
OPERATIONS = ("CREATE", "UPDATE", "DELETE")


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class Page:
    page: int
    limit: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.limit))

    def to_dict(self) -> dict:
        return {"page": self.page, "limit": self.limit, "total": self.total, "pages": self.pages}


def _int(args, name: str, default: int | None, lo: int = 1, hi: int = params.MAX_ID) -> int | None:
    try:
        return params.whole_number(args.get(name), name, default=default, minimum=lo, maximum=hi)
    except params.ParamError as error:
        raise QueryError(str(error)) from None


def _time(args, *names: str) -> datetime | None:
    for name in names:
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                raise QueryError(f"{name} must be an ISO 8601 date or time, got {raw!r}") from None
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def _paginate(session: Session, query: Select, args, order) -> tuple[list, Page]:
    page = _int(args, "page", 1)
    limit = _int(args, "limit", 50, 1, MAX_LIMIT)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*order).offset((page - 1) * limit).limit(limit)).all()
    return list(rows), Page(page, limit, total)


def search_events(session: Session, args) -> tuple[list[dict], Page]:
    """Filters: host (or hostname), rule_id, decision, correlation_id, start/end (received_at)."""
    query = select(EventAudit)
    host = (args.get("host") or args.get("hostname") or "").strip()
    if host:
        query = query.where(EventAudit.hostname == host)
    rule_id = _int(args, "rule_id", None)
    if rule_id is not None:
        query = query.where(EventAudit.rule_id == rule_id)
    for name, column in (("decision", EventAudit.decision), ("correlation_id", EventAudit.correlation_id)):
        value = (args.get(name) or "").strip()
        if value:
            query = query.where(column == value)
    start, end = _time(args, "start", "start_date"), _time(args, "end", "end_date")
    if start:
        query = query.where(EventAudit.received_at >= start)
    if end:
        query = query.where(EventAudit.received_at <= end)
    rows, page = _paginate(session, query, args, (EventAudit.received_at.desc(), EventAudit.event_id))
    return [event_to_dict(row) for row in rows], page


def search_changes(session: Session, args) -> tuple[list[dict], Page]:
    """Filters: changed_by (substring), table_name, record_id, operation, start_date/end_date."""
    query = select(ConfigAudit)
    changed_by = (args.get("changed_by") or "").strip()
    if changed_by:
        escaped = changed_by.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(ConfigAudit.changed_by.ilike(f"%{escaped}%", escape="\\"))
    for name, column in (("table_name", ConfigAudit.table_name), ("record_id", ConfigAudit.record_id)):
        value = (args.get(name) or "").strip()
        if value:
            query = query.where(column == value)
    operation = (args.get("operation") or "").strip().upper()
    if operation:
        if operation not in OPERATIONS:
            raise QueryError(f"operation must be one of {', '.join(OPERATIONS)}")
        query = query.where(ConfigAudit.operation == operation)
    start, end = _time(args, "start_date", "start"), _time(args, "end_date", "end")
    if start:
        query = query.where(ConfigAudit.changed_at >= start)
    if end:
        query = query.where(ConfigAudit.changed_at <= end)
    rows, page = _paginate(session, query, args, (ConfigAudit.changed_at.desc(), ConfigAudit.id.desc()))
    return [change_to_dict(row) for row in rows], page


def event_to_dict(row: EventAudit) -> dict:
    return {
        "event_id": row.event_id, "received_at": row.received_at.isoformat(),
        "event_time": row.event_time.isoformat() if row.event_time else None, "hostname": row.hostname,
        "rule_id": row.rule_id, "rule_name": row.rule_name, "environment": row.environment,
        "decision": row.decision, "forwarded": row.forwarded, "team": row.team,
        "correlation_id": row.correlation_id, "message": (row.event or {}).get("message", ""), "event": row.event,
    }


def change_to_dict(row: ConfigAudit) -> dict:
    return {
        "id": row.id, "changed_at": row.changed_at.isoformat(), "changed_by": row.changed_by,
        "operation": row.operation, "table_name": row.table_name, "record_id": row.record_id,
        "old_values": row.old_values, "new_values": row.new_values, "reason": row.reason,
        "correlation_id": row.correlation_id,
    }
