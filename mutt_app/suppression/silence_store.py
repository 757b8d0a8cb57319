"""The stored silences: create, list by state, get, update, expire; and what the alerter loads.

Every change is validated (``silences.validate``), writes a config-audit row (who, what, and the
comment as why) in the same transaction and, once committed, bumps ``redis_keys.SILENCES_VERSION``
so every alerter worker reloads within a second (``SilenceCache``). Silences are never removed:
expiring one sets ``expired_at``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mutt_app.audit import config_audit
from mutt_app.errors import InvalidInput, NotFound
from mutt_app.storage import db, redis_keys
from mutt_app.storage.models import Silence as SilenceRow
from mutt_app.suppression import silences
from mutt_app.suppression.silences import SilenceSet

log = logging.getLogger(__name__)

TABLE = "silences"
CHECK_EVERY = 0.5              # seconds: how often a worker looks at SILENCES_VERSION
RELOAD_AT_LEAST_EVERY = 60.0   # seconds: also reload without a version bump (e.g. Redis lost it)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def to_dict(row: SilenceRow, *, now: datetime | None = None) -> dict[str, Any]:
    """A silence as the API shows it, with its state and its current or next window."""
    compiled = silences.Silence.of(row)
    at = now or datetime.now(UTC)
    window = compiled.window(at)
    schedule = None
    if row.rrule:
        schedule = {"rrule": row.rrule, "duration_seconds": row.duration_seconds, "time_zone": row.time_zone}
    return {
        "id": row.id, "matchers": row.matchers, "starts_at": _iso(row.starts_at), "ends_at": _iso(row.ends_at),
        "schedule": schedule, "comment": row.comment, "created_by": row.created_by,
        "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at), "expired_at": _iso(row.expired_at),
        "state": compiled.state(at),
        "window": None if window is None else {"starts_at": _iso(window[0]), "ends_at": _iso(window[1])},
    }


def _snapshot(row: SilenceRow) -> dict[str, Any]:
    return {"matchers": row.matchers, "starts_at": _iso(row.starts_at), "ends_at": _iso(row.ends_at),
            "rrule": row.rrule, "duration_seconds": row.duration_seconds, "time_zone": row.time_zone,
            "comment": row.comment, "expired_at": _iso(row.expired_at)}


def changed(session: Session) -> None:
    """Tell every alerter worker, once ``session`` commits, that the silences changed."""
    db.on_commit(session, bump_version)


def bump_version() -> None:
    from mutt_app.storage import redis_client
    redis_client.get().incr(redis_keys.SILENCES_VERSION)


def get(session: Session, silence_id: int) -> SilenceRow:
    row = session.get(SilenceRow, silence_id)
    if row is None:
        raise NotFound(f"silence {silence_id} not found")
    return row


def list_silences(session: Session, state: str | None = None, *, now: datetime | None = None) -> list[SilenceRow]:
    """Silences, newest first; with ``state``, only those in that state at ``now``."""
    if state is not None and state not in silences.STATES:
        raise InvalidInput(f"state must be one of {', '.join(silences.STATES)}")
    at = now or datetime.now(UTC)
    query = select(SilenceRow).order_by(SilenceRow.id.desc())
    if state in (silences.ACTIVE, silences.PENDING):
        query = query.where(SilenceRow.expired_at.is_(None), or_(SilenceRow.ends_at.is_(None), SilenceRow.ends_at > at))
    rows = list(session.scalars(query))
    return rows if state is None else [row for row in rows if silences.Silence.of(row).state(at) == state]


def create(session: Session, fields: dict[str, Any], *, actor: str, now: datetime | None = None,
           correlation_id: str = "") -> SilenceRow:
    columns = silences.validate(fields, now=now or datetime.now(UTC))
    row = SilenceRow(**columns, created_by=actor[:120])
    session.add(row)
    session.flush()
    config_audit.record(session, actor=actor, operation="CREATE", table=TABLE, record_id=row.id, new=_snapshot(row),
                        reason=row.comment, correlation_id=correlation_id)
    changed(session)
    return row


def update(session: Session, silence_id: int, fields: dict[str, Any], *, actor: str, now: datetime | None = None,
           correlation_id: str = "") -> SilenceRow:
    """Change a silence (e.g. extend it: a later ``ends_at``); fields not sent are kept. An
    expired silence cannot be changed (create a new one)."""
    row = get(session, silence_id)
    if row.expired_at is not None:
        raise silences.SilenceError(f"silence {silence_id} is expired; create a new one")
    old = _snapshot(row)
    current = {"matchers": row.matchers, "starts_at": row.starts_at, "ends_at": row.ends_at, "comment": row.comment}
    if row.rrule:
        current["schedule"] = {"rrule": row.rrule, "duration_seconds": row.duration_seconds, "time_zone": row.time_zone}
    if "schedule" in fields and fields["schedule"] is None:
        current.pop("schedule", None)
    merged = current | {name: value for name, value in fields.items() if not (name == "schedule" and value is None)}
    columns = silences.validate(merged, now=now or datetime.now(UTC))
    for name, value in columns.items():
        setattr(row, name, value)
    session.flush()
    config_audit.record(session, actor=actor, operation="UPDATE", table=TABLE, record_id=row.id, old=old,
                        new=_snapshot(row), reason=str(fields.get("comment") or row.comment), correlation_id=correlation_id)
    changed(session)
    return row


def expire(session: Session, silence_id: int, *, actor: str, reason: str = "", now: datetime | None = None,
           correlation_id: str = "") -> SilenceRow:
    """End a silence now (kept for the audit). Expiring an expired one changes nothing."""
    row = get(session, silence_id)
    if row.expired_at is not None:
        return row
    old = _snapshot(row)
    row.expired_at = now or datetime.now(UTC)
    session.flush()
    config_audit.record(session, actor=actor, operation="UPDATE", table=TABLE, record_id=row.id, old=old,
                        new=_snapshot(row), reason=reason or "expired", correlation_id=correlation_id)
    changed(session)
    return row


def load(session: Session, *, now: datetime | None = None, version: str | None = None) -> SilenceSet:
    """The silences that are not over: what the alerter matches with."""
    at = now or datetime.now(UTC)
    rows = session.scalars(select(SilenceRow).where(
        SilenceRow.expired_at.is_(None), or_(SilenceRow.ends_at.is_(None), SilenceRow.ends_at > at)))
    compiled = []
    for row in rows:
        try:
            compiled.append(silences.Silence.of(row))
        except Exception as error:  # noqa: BLE001 - a row written around validation must not stop the others
            log.error("silence %s cannot be used and is left out: %s", row.id, error)
    return SilenceSet(compiled, version=version)


def count_active(session: Session, *, now: datetime | None = None) -> int:
    at = now or datetime.now(UTC)
    return load(session, now=at).active(at).count


class SilenceCache:
    """This process's silences, reloaded when ``redis_keys.SILENCES_VERSION`` moves (looked at no
    more than every ``CHECK_EVERY`` seconds, so a change is in force within a second) and at least
    every minute. Which silences are active at a moment is the ``SilenceSet``'s business."""

    def __init__(self, load: Callable[[str | None], SilenceSet], *, check_every: float = CHECK_EVERY) -> None:
        self._load = load
        self._check_every = check_every
        self._set: SilenceSet | None = None
        self._loaded_at = self._checked_at = 0.0

    def get(self, redis_client: Redis) -> SilenceSet:
        now = time.monotonic()
        known = self._set
        if known is not None and now - self._checked_at < self._check_every:
            return known
        stored = redis_client.get(redis_keys.SILENCES_VERSION)
        version = None if stored is None else str(stored)
        self._checked_at = now
        if known is None or known.version != version or now - self._loaded_at > RELOAD_AT_LEAST_EVERY:
            known = self._set = self._load(version)
            self._loaded_at = now
        return known
