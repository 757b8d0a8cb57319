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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from mutt_app.core import params
from mutt_app.errors import InvalidInput
from mutt_app.storage import db
from mutt_app.storage.models import ConfigAudit, DeadLetter, EventAudit

MAX_LIMIT = 200
UNHANDLED = "unhandled"           # no rule matched (mutt_app.alerting.decide.UNHANDLED)
DEAD_LETTERED = "dead_lettered"   # not a decision stored in the audit: the event is a dead letter
HOST_MATCHES = ("contains", "prefix")
MIN_SUBSTRING = 3                 # a shorter host filter matches the start of the name
MAX_SEARCH_TEXT = 200             # characters of the message search
MAX_DECISION = 100
MAX_WORDS = 10                    # SQLite: words of the message search (each one a LIKE)
SEARCH_TIMEOUT_SECONDS = 10.0     # PostgreSQL: statement_timeout of an event search
QUERY_CANCELED = "57014"          # PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout
MAX_HOSTS = 5000                  # PostgreSQL: host names a host search may match
# The distinct hostnames of the event audit matching :pattern, by a skip scan of its hostname index
DISTINCT_HOSTS_LIKE = """
WITH RECURSIVE hosts(name) AS (
    (SELECT hostname FROM event_audit ORDER BY hostname LIMIT 1)
    UNION ALL
    SELECT (SELECT e.hostname FROM event_audit e WHERE e.hostname > h.name ORDER BY e.hostname LIMIT 1)
    FROM hosts h WHERE h.name IS NOT NULL
)
SELECT name FROM hosts WHERE name ILIKE :pattern ESCAPE '\\' LIMIT :cap
"""
# The expression the GIN index of migration 0005 is built on; a query must use it as is
MESSAGE_TSVECTOR = "to_tsvector('simple'::regconfig, COALESCE(event ->> 'message', ''))"
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


def search_events(session: Session, args, *, by_event_time: bool = False, v25: bool = False) -> tuple[list[dict], Page]:
    """Every event MUTT decided on (matched, silenced, duplicate, unhandled ...), newest first.

    Filters: ``host`` (part of the hostname, case-insensitive; with ``host_match=prefix``, or when
    shorter than 3 characters, its start), ``hostname`` (the exact name, as v2.5's), ``q`` (words of
    the message, all of them: PostgreSQL full text, ``"a phrase"``, ``or``, ``-word``; SQLite: each
    word a case-insensitive substring), ``decision`` (case-insensitive; ``dead_lettered`` searches
    the dead letters instead, ``search_dead_letters``), rule_id, correlation_id, ``since`` (15m, 1h,
    24h, 7d: the last so long) and start/end (received_at; the event's own time with
    ``by_event_time``, as v2.5's /api/v1/audit-logs filtered). ``v25``: only what v2.5 audited
    (events a rule matched) unless a decision is asked for. On PostgreSQL the search is cancelled
    after ``SEARCH_TIMEOUT_SECONDS`` (``QueryError``: narrow it)."""
    decision = _text(args, "decision", MAX_DECISION).lower()
    if decision == DEAD_LETTERED:
        return search_dead_letters(session, args)
    with _bounded(session):
        return _search_audit(session, args, decision, by_event_time=by_event_time, v25=v25)


def _search_audit(session: Session, args, decision: str, *, by_event_time: bool, v25: bool) -> tuple[list[dict], Page]:
    when = EventAudit.event_time if by_event_time else EventAudit.received_at
    query = select(EventAudit).where(*_common_filters(session, args, EventAudit.hostname, when))
    if decision:
        query = query.where(func.lower(EventAudit.decision) == decision)
    elif v25:
        query = query.where(EventAudit.decision != UNHANDLED)
    words = _text(args, "q", MAX_SEARCH_TEXT)
    if words:
        query = query.where(_message_matches(session, words))
    rule_id = _int(args, "rule_id", None)
    if rule_id is not None:
        query = query.where(EventAudit.rule_id == rule_id)
    correlation_id = _text(args, "correlation_id", 64)
    if correlation_id:
        query = query.where(EventAudit.correlation_id == correlation_id)
    return _paginate(session, query, args, (when.desc(), EventAudit.event_id), event_to_dict)


def search_dead_letters(session: Session, args) -> tuple[list[dict], Page]:
    """The events that became dead letters (``decision=dead_lettered``): they have no audit row
    (the alerter could not decide on them, or shed them), so they are searched where they are, with
    the same filters (host, q, since, start/end on when they failed), in the shape of audit rows plus
    ``dead_letter_id`` and ``reason``. Dead letters are few; the search is bounded by the timeout."""
    hostname = DeadLetter.payload["hostname"].as_string()
    with _bounded(session):
        query = select(DeadLetter).where(DeadLetter.kind == "event",
                                         *_common_filters(session, args, hostname, DeadLetter.last_failed_at))
        for word in _text(args, "q", MAX_SEARCH_TEXT).split()[:MAX_WORDS]:
            query = query.where(DeadLetter.payload["message"].as_string().ilike(f"%{_escaped(word)}%", escape="\\"))
        return _paginate(session, query, args, (DeadLetter.last_failed_at.desc(), DeadLetter.id.desc()),
                         dead_letter_to_dict)


def _common_filters(session: Session, args, hostname, when) -> list:
    """The host and time filters of an event search, as WHERE clauses on ``hostname`` and ``when``."""
    clauses = []
    exact = _text(args, "hostname", 255)
    if exact:
        clauses.append(hostname == exact)
    host = _text(args, "host", 255)
    match = _text(args, "host_match", 10).lower() or "contains"
    if match not in HOST_MATCHES:
        raise QueryError(f"host_match must be one of {', '.join(HOST_MATCHES)}, got {match[:20]!r}")
    if host:
        # a substring of 1-2 characters would match nearly every name: it is taken as the start
        pattern = f"{_escaped(host)}%" if match == "prefix" or len(host) < MIN_SUBSTRING else f"%{_escaped(host)}%"
        if hostname is EventAudit.hostname and db.is_postgresql(session):
            clauses.append(hostname.in_(_hosts_like(session, pattern, host)))
        else:
            clauses.append(hostname.ilike(pattern, escape="\\"))
    return clauses + _time_filters(args, when, ("start", "start_date"), ("end", "end_date"))


def _time_filters(args, when, start_names: tuple[str, ...], end_names: tuple[str, ...]) -> list:
    """``when`` within start/end (ISO 8601) and within ``since`` (the last 15m, 1h, 24h, 7d)."""
    start, end = _time(args, *start_names), _time(args, *end_names)
    try:
        recent = params.time_range_start(_text(args, "since", 10))
    except params.ParamError as error:
        raise QueryError(str(error)) from None
    if recent is not None:
        start = max(start, recent) if start else recent
    clauses = []
    if start:
        clauses.append(when >= start)
    if end:
        clauses.append(when <= end)
    return clauses


def _hosts_like(session: Session, pattern: str, host: str) -> list[str]:
    """PostgreSQL: the audited hostnames matching ``pattern`` (ILIKE). A skip scan of the hostname
    index finds the distinct names (one index probe per name, however many rows each has), so
    the rows are then found by that index too: no scan of the table, no index more to write per
    event (ADR 0018). At most ``MAX_HOSTS`` names, else the search is refused."""
    names = list(session.scalars(text(DISTINCT_HOSTS_LIKE), {"pattern": pattern, "cap": MAX_HOSTS + 1}))
    if len(names) > MAX_HOSTS:
        raise QueryError(f"host {host[:40]!r} matches more than {MAX_HOSTS} host names: give more of the name")
    return names


def _message_matches(session: Session, words: str):
    """The events whose message holds ``words``: on PostgreSQL the full-text expression its GIN
    index (migration 0005) is built on, word for word, so the planner uses it; on SQLite each word
    (at most ``MAX_WORDS``) a case-insensitive substring of the message (ADR 0018)."""
    if db.is_postgresql(session):
        return text(f"{MESSAGE_TSVECTOR} @@ websearch_to_tsquery('simple', :words)").bindparams(words=words)
    message = EventAudit.event["message"].as_string()
    return and_(*(message.ilike(f"%{_escaped(word)}%", escape="\\") for word in words.split()[:MAX_WORDS]))


@contextmanager
def _bounded(session: Session) -> Iterator[None]:
    """On PostgreSQL, cancel this transaction's statements after ``SEARCH_TIMEOUT_SECONDS`` and say
    so as a refusal with what to do (a 400, not a 503: the database is fine, the search too broad)."""
    if not db.is_postgresql(session):
        yield
        return
    session.execute(text(f"SET LOCAL statement_timeout = {int(SEARCH_TIMEOUT_SECONDS * 1000)}"))
    try:
        yield
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != QUERY_CANCELED:
            raise
        session.rollback()
        raise QueryError(f"the search took longer than {SEARCH_TIMEOUT_SECONDS:g} s: narrow it "
                         "(a shorter time range, more of the host name, fewer common words)") from None


def _text(args, name: str, longest: int) -> str:
    raw = args.get(name)
    if raw is None:
        return ""
    try:
        value = params.text(raw, name).strip()
    except params.ParamError as error:
        raise QueryError(str(error)) from None
    if len(value) > longest:
        raise QueryError(f"{name} must be at most {longest} characters, got {len(value)}")
    return value


def _escaped(value: str) -> str:
    """``value`` taken literally in a LIKE pattern (escape character: backslash)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_changes(session: Session, args) -> tuple[list[dict], Page]:
    """Filters: changed_by (substring), table_name, record_id, operation, start_date/end_date, since."""
    query = select(ConfigAudit)
    changed_by = (args.get("changed_by") or "").strip()
    if changed_by:
        query = query.where(ConfigAudit.changed_by.ilike(f"%{_escaped(changed_by)}%", escape="\\"))
    for name, column in (("table_name", ConfigAudit.table_name), ("record_id", ConfigAudit.record_id)):
        value = (args.get(name) or "").strip()
        if value:
            query = query.where(column == value)
    operation = (args.get("operation") or "").strip().upper()
    if operation:
        if operation not in OPERATIONS:
            raise QueryError(f"operation must be one of {', '.join(OPERATIONS)}")
        query = query.where(ConfigAudit.operation == operation)
    query = query.where(*_time_filters(args, ConfigAudit.changed_at, ("start_date", "start"), ("end_date", "end")))
    return _paginate(session, query, args, (ConfigAudit.changed_at.desc(), ConfigAudit.id.desc()), change_to_dict)


def event_to_dict(row: EventAudit) -> dict:
    return {
        "event_id": row.event_id, "received_at": row.received_at.isoformat(),
        "event_time": row.event_time.isoformat() if row.event_time else None, "hostname": row.hostname,
        "rule_id": row.rule_id, "rule_name": row.rule_name, "environment": row.environment,
        "decision": row.decision, "forwarded": row.forwarded, "team": row.team, "silence_id": row.silence_id,
        "alert_id": row.alert_id, "correlation_id": row.correlation_id, "message": (row.event or {}).get("message", ""), "event": row.event,
    }


def dead_letter_to_dict(row: DeadLetter) -> dict:
    """A dead-lettered event in the shape of an audit row, with where to find it."""
    event = row.payload if isinstance(row.payload, dict) else {"event": row.payload}
    return {
        "event_id": row.ref_id, "received_at": row.last_failed_at.isoformat(), "event_time": None,
        "hostname": str(event.get("hostname") or ""), "rule_id": None, "rule_name": "", "environment": "",
        "decision": DEAD_LETTERED, "forwarded": False, "team": "", "silence_id": None,
        "correlation_id": str(event.get("_correlation_id") or ""), "message": event.get("message", ""),
        "event": event, "dead_letter_id": row.id, "reason": row.reason,
    }


def change_to_dict(row: ConfigAudit) -> dict:
    return {
        "id": row.id, "changed_at": row.changed_at.isoformat(), "changed_by": row.changed_by,
        "operation": row.operation, "table_name": row.table_name, "record_id": row.record_id,
        "old_values": row.old_values, "new_values": row.new_values, "reason": row.reason,
        "correlation_id": row.correlation_id,
    }
