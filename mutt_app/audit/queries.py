"""Searching the event audit (what rules decided) and the config audit (who changed what).

Filters arrive as strings (query parameters, form fields); a bad one raises ``QueryError``
with a message for the caller. Newest first, paginated by ``page`` and ``limit`` (or ``offset``),
and a page is also bounded in bytes: rows stop before their JSON passes ``MAX_PAGE_BYTES`` (one
event-audit row can hold a whole event), and the page says so with ``truncated`` and the
``next_offset`` the following rows start at.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mutt_app.core import params
from mutt_app.errors import InvalidInput
from mutt_app.storage.models import ConfigAudit, EventAudit

MAX_LIMIT = 200
MAX_PAGE_BYTES = 1024 * 1024  # of the rows' JSON in one answer; at least one row is always given
OPERATIONS = ("CREATE", "UPDATE", "DELETE")


class QueryError(InvalidInput):
    pass


@dataclass(frozen=True)
class Page:
    page: int
    limit: int
    total: int
    offset: int = 0
    returned: int = 0
    truncated: bool = False  # fewer than ``limit`` rows because of MAX_PAGE_BYTES

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.limit))

    @property
    def max_bytes(self) -> int:
        return MAX_PAGE_BYTES

    @property
    def next_offset(self) -> int | None:
        """Where the following rows start (``?offset=``), or None after the last row."""
        following = self.offset + self.returned
        return following if following < self.total else None

    def to_dict(self) -> dict:
        return {"page": self.page, "limit": self.limit, "total": self.total, "pages": self.pages,
                "offset": self.offset, "returned": self.returned, "truncated": self.truncated,
                "max_bytes": self.max_bytes, "next_offset": self.next_offset}


_Default = TypeVar("_Default", int, None)


def _int(args, name: str, default: _Default, lo: int = 1, hi: int = params.MAX_INT32) -> int | _Default:
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
            return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _paginate(session: Session, query: Select, args, order, to_dict: Callable[[Any], dict]) -> tuple[list[dict], Page]:
    page = _int(args, "page", 1)
    limit = _int(args, "limit", 50, 1, MAX_LIMIT)
    offset = _int(args, "offset", None, 0)
    start = (page - 1) * limit if offset is None else offset
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows: list[dict[str, Any]] = []
    size = 0
    for row in session.scalars(query.order_by(*order).offset(start).limit(limit)):
        item = to_dict(row)
        size += len(json.dumps(item, default=str))
        if rows and size > MAX_PAGE_BYTES:
            break
        rows.append(item)
    truncated = len(rows) < limit and start + len(rows) < total
    return rows, Page(page if offset is None else start // limit + 1, limit, total, start, len(rows), truncated)


def search_events(session: Session, args, *, by_event_time: bool = False) -> tuple[list[dict], Page]:
    """Filters: host (or hostname), rule_id, decision, correlation_id, start/end (received_at;
    the event's own time with ``by_event_time``, as v2.5's /api/v1/audit-logs filtered)."""
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
    when = EventAudit.event_time if by_event_time else EventAudit.received_at
    if start:
        query = query.where(when >= start)
    if end:
        query = query.where(when <= end)
    return _paginate(session, query, args, (when.desc(), EventAudit.event_id), event_to_dict)


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
    return _paginate(session, query, args, (ConfigAudit.changed_at.desc(), ConfigAudit.id.desc()), change_to_dict)


def event_to_dict(row: EventAudit) -> dict:
    return {
        "event_id": row.event_id, "received_at": row.received_at.isoformat(),
        "event_time": row.event_time.isoformat() if row.event_time else None, "hostname": row.hostname,
        "rule_id": row.rule_id, "rule_name": row.rule_name, "environment": row.environment,
        "decision": row.decision, "forwarded": row.forwarded, "team": row.team, "silence_id": row.silence_id,
        "alert_id": row.alert_id, "correlation_id": row.correlation_id, "message": (row.event or {}).get("message", ""), "event": row.event,
    }


def change_to_dict(row: ConfigAudit) -> dict:
    return {
        "id": row.id, "changed_at": row.changed_at.isoformat(), "changed_by": row.changed_by,
        "operation": row.operation, "table_name": row.table_name, "record_id": row.record_id,
        "old_values": row.old_values, "new_values": row.new_values, "reason": row.reason,
        "correlation_id": row.correlation_id,
    }
