"""Source heartbeats: a device or a sender that must be heard from at least every interval.

A heartbeat watches a *member*, ``hostname:<host>`` (events whose hostname is that device) or
``source:<name>`` (events sent with that API key, or through that listener source). Three parts:

- the **store**: add, list, change, remove (validated, audited in the config audit in the same
  transaction; once committed, the watch list in Redis follows);
- **recording**: for each batch, the alerter hands ``Recorder.seen`` its events; one Lua call records
  "heard from now" for the members a heartbeat watches and pushes their deadline out (a sorted set
  of deadlines, ``mutt:heartbeats:due``);
- the **checker** (``check``, run by beat every few seconds): a range query on the deadlines gives
  the members that fell quiet; each gets one alert (signature ``mutt:heartbeat:<name>``) for its
  quiet spell, and its next event clears it (severity 0, same signature).

Times are the Redis server's clock. If the checker did not run for ``MAX_CHECK_GAP_MS`` (MUTT was
down, or the clock jumped forward) or the clock went back, nothing is alerted that run: every
watched member gets a whole interval from now instead (ADR 0016).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from mutt_app.audit import config_audit
from mutt_app.core import ids, lua, params
from mutt_app.errors import Conflict, InvalidChange, NotFound
from mutt_app.storage import db, redis_client, redis_keys
from mutt_app.storage.models import HEARTBEAT_KINDS, Alert, AlertState, Heartbeat
from mutt_app.suppression.silences import SilenceSet

log = logging.getLogger(__name__)

TABLE = "heartbeats"
MIN_INTERVAL, MAX_INTERVAL = 10, 7 * 24 * 3600   # seconds
DEFAULT_SEVERITY = 4                             # Major; 0 would be a clear, so 1-5
MAX_COMMENT = 1000
MAX_NAME = 255
CHECK_EVERY = 5.0                                # seconds, beat's schedule of the checker
MAX_CHECK_GAP_MS = 60_000                        # a longer silence of the checker itself re-baselines
MAX_MEMBERS_PER_CALL = 2000                      # of one recording script call (Lua's unpack limit is 8000)
SYNC_EVERY = 60                                  # seconds: the watch list is rebuilt from the database
SIGNATURE_PREFIX = "mutt:heartbeat:"
DECISION = "heartbeat"

SEEN, WATCH, DUE = "mutt_app.operations:heartbeat_seen", "mutt_app.operations:heartbeat_watch", \
    "mutt_app.operations:heartbeat_due"

# The silence hook: given the alert about to be raised, the id of the silence that mutes it, or None.
Silenced = Callable[[dict[str, Any]], "str | int | None"]


def never_silenced(_alert: dict[str, Any]) -> None:
    return None


def silenced_by(silences: SilenceSet) -> Silenced:
    """The hook for ``check`` that asks ``silences``: a heartbeat alert is muted as an event from
    its source would be (its host for a device, its sender's name for a source)."""
    def silenced(alert: dict[str, Any]) -> int | None:
        watched = alert["event"]
        as_event = {"hostname": watched["name"] if watched["kind"] == "hostname" else "",
                    "_key": watched["name"] if watched["kind"] == "source" else "",
                    "message": alert["description"]}
        return silences.silencing(as_event, now=datetime.now(UTC), environment=alert["environment"], team=alert["team"])
    return silenced


class HeartbeatError(InvalidChange):
    """A heartbeat refused as given (HTTP 422)."""


class HeartbeatExists(Conflict):
    """A heartbeat for that source exists already (HTTP 409)."""


class HeartbeatNotFound(NotFound):
    """No heartbeat with that id (HTTP 404)."""


def member(kind: str, name: str) -> str:
    return f"{kind}:{name}"


# ---------------------------------------------------------------- the store

def _name(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_NAME \
            or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise HeartbeatError(f"{kind} must be 1-{MAX_NAME} printable characters")
    return value.strip().lower() if kind == "hostname" else value.strip()


def _whole(value: Any, name: str, low: int, high: int) -> int:
    try:
        return params.whole_number(value, name, minimum=low, maximum=high)
    except params.ParamError as error:
        raise HeartbeatError(str(error)) from None


def _comment(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_COMMENT or "\x00" in value:
        raise HeartbeatError(f"comment is required: a string of 1-{MAX_COMMENT} characters (why this source is watched)")
    return value.strip()


FIELDS = ("hostname", "source", "interval_seconds", "severity", "comment", "reason")


def _refuse_unknown(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise HeartbeatError(f"unknown field(s): {', '.join(unknown)} (known: {', '.join(FIELDS)})")


def to_dict(row: Heartbeat, last_seen_ms: float | None = None) -> dict[str, Any]:
    """A heartbeat as the API, the CLI and the UI show it; ``quiet`` says whether an alert is open."""
    return {
        "id": row.id, "kind": row.kind, row.kind: row.name, "name": row.name,
        "interval_seconds": row.interval_seconds, "severity": row.severity, "comment": row.comment,
        "created_at": _iso(row.created_at), "created_by": row.created_by,
        "updated_at": _iso(row.updated_at), "updated_by": row.updated_by,
        "last_seen": _iso(_from_ms(last_seen_ms)) if last_seen_ms is not None else None,
        "quiet": row.alerted_at is not None, "quiet_since": _iso(row.quiet_since), "alerted_at": _iso(row.alerted_at),
    }


def _audited(row: Heartbeat) -> dict[str, Any]:
    return {"kind": row.kind, "name": row.name, "interval_seconds": row.interval_seconds,
            "severity": row.severity, "comment": row.comment}


def create(session: Session, fields: dict[str, Any], *, actor: str, reason: str = "", correlation_id: str = "",
           clock: lua.RedisClock = lua.REDIS_CLOCK) -> Heartbeat:
    """Add a heartbeat from ``{hostname | source, interval_seconds, severity?, comment}``."""
    _refuse_unknown(fields)
    kinds = [kind for kind in HEARTBEAT_KINDS if fields.get(kind) is not None]
    if len(kinds) != 1:
        raise HeartbeatError("give exactly one of hostname (a device) or source (an API key's or listener source's name)")
    kind = kinds[0]
    row = Heartbeat(kind=kind, name=_name(kind, fields[kind]),
                    interval_seconds=_whole(fields.get("interval_seconds"), "interval_seconds", MIN_INTERVAL, MAX_INTERVAL),
                    severity=_whole(fields.get("severity", DEFAULT_SEVERITY), "severity", 1, 5),
                    comment=_comment(fields.get("comment")), created_by=actor[:120], updated_by=actor[:120])
    if session.scalar(select(Heartbeat.id).where(Heartbeat.name == row.name)) is not None:
        raise HeartbeatExists(f"there is a heartbeat for {row.name} already")
    session.add(row)
    session.flush()
    config_audit.record(session, actor=actor, operation="CREATE", table=TABLE, record_id=row.id, new=_audited(row),
                        reason=reason, correlation_id=correlation_id)
    _after_commit(session, lambda redis: watch(redis, [(member(row.kind, row.name), row.interval_seconds)], clock))
    return row


def update(session: Session, heartbeat_id: int, fields: dict[str, Any], *, actor: str, reason: str = "",
           correlation_id: str = "", clock: lua.RedisClock = lua.REDIS_CLOCK) -> Heartbeat:
    """Change a heartbeat's interval_seconds, severity or comment (what it watches stays: remove
    it and add another)."""
    _refuse_unknown(fields)
    if any(kind in fields for kind in HEARTBEAT_KINDS):
        raise HeartbeatError("what a heartbeat watches cannot change: remove it and add another")
    row = get(session, heartbeat_id)
    old = _audited(row)
    if "interval_seconds" in fields:
        row.interval_seconds = _whole(fields["interval_seconds"], "interval_seconds", MIN_INTERVAL, MAX_INTERVAL)
    if "severity" in fields:
        row.severity = _whole(fields["severity"], "severity", 1, 5)
    if "comment" in fields:
        row.comment = _comment(fields["comment"])
    row.updated_by = actor[:120]
    row.updated_at = datetime.now(UTC)
    session.flush()
    config_audit.record(session, actor=actor, operation="UPDATE", table=TABLE, record_id=row.id, old=old,
                        new=_audited(row), reason=reason, correlation_id=correlation_id)
    _after_commit(session, lambda redis: watch(redis, [(member(row.kind, row.name), row.interval_seconds)], clock))
    return row


def remove(session: Session, heartbeat_id: int, *, actor: str, reason: str = "", correlation_id: str = "") -> None:
    """Remove a heartbeat. An alert it raised stays open in Moogsoft (nothing clears it any more)."""
    row = get(session, heartbeat_id)
    config_audit.record(session, actor=actor, operation="DELETE", table=TABLE, record_id=row.id, old=_audited(row),
                        reason=reason, correlation_id=correlation_id)
    watched = member(row.kind, row.name)
    session.delete(row)
    session.flush()
    _after_commit(session, lambda redis: unwatch(redis, [watched]))


def get(session: Session, heartbeat_id: Any) -> Heartbeat:
    try:
        wanted = params.record_id(heartbeat_id, "heartbeat id")
    except params.ParamError:
        raise HeartbeatNotFound(f"no heartbeat {heartbeat_id}") from None
    row = session.get(Heartbeat, wanted) if wanted <= params.MAX_INT32 else None
    if row is None:
        raise HeartbeatNotFound(f"no heartbeat {heartbeat_id}")
    return row


def list_all(session: Session) -> list[Heartbeat]:
    return list(session.scalars(select(Heartbeat).order_by(Heartbeat.name)))


def last_seen(redis: Redis, rows: list[Heartbeat]) -> list[float | None]:
    """When each heartbeat's source was last heard from (ms, Redis clock), one round trip."""
    if not rows:
        return []
    return [float(value) if value is not None else None
            for value in redis.zmscore(redis_keys.HEARTBEATS_LAST_SEEN, [member(r.kind, r.name) for r in rows])]


def _after_commit(session: Session, action: Callable[[Redis], Any]) -> None:
    # Redis follows once the change is committed; should it be down, the checker's sync catches up.
    db.on_commit(session, lambda: action(redis_client.get()))


# ---------------------------------------------------------------- the watch list in Redis

def watch(redis: Redis, members: Iterable[tuple[str, int]], clock: lua.RedisClock = lua.REDIS_CLOCK) -> None:
    """Watch these (member, interval_seconds): a member not yet watched starts its clock now."""
    args = [value for name, interval in members for value in (name, int(interval) * 1000)]
    if args:
        clock.register(redis, WATCH)(keys=[redis_keys.HEARTBEATS_WATCHED, redis_keys.HEARTBEATS_DUE], args=args)


def unwatch(redis: Redis, members: list[str]) -> None:
    if members:
        with redis.pipeline() as pipe:
            pipe.hdel(redis_keys.HEARTBEATS_WATCHED, *members)
            pipe.zrem(redis_keys.HEARTBEATS_DUE, *members)
            pipe.zrem(redis_keys.HEARTBEATS_LAST_SEEN, *members)
            pipe.execute()


def sync(session: Session, redis: Redis, clock: lua.RedisClock = lua.REDIS_CLOCK) -> None:
    """Make the watch list in Redis the database's heartbeats (after a change Redis missed, or a
    Redis that lost its data)."""
    wanted = {member(kind, name): interval for kind, name, interval
              in session.execute(select(Heartbeat.kind, Heartbeat.name, Heartbeat.interval_seconds))}
    present = {key.decode() if isinstance(key, bytes) else key
               for key in redis.hkeys(redis_keys.HEARTBEATS_WATCHED)}
    unwatch(redis, sorted(present - set(wanted)))
    watch(redis, wanted.items(), clock)
    redis.set(redis_keys.HEARTBEATS_SYNCED, "1", ex=SYNC_EVERY)


# ---------------------------------------------------------------- recording (the alerter, per batch)

class Recorder:
    """What the alerter calls with each batch's events: one Redis round trip, whatever the batch."""

    def __init__(self, redis: Redis, clock: lua.RedisClock = lua.REDIS_CLOCK) -> None:
        self._script = clock.register(redis, SEEN)

    def seen(self, events: Iterable[Any]) -> int:
        """Record the batch's hostnames and sources; returns how many a heartbeat watches."""
        members: set[str] = set()
        for event in events:
            if isinstance(event, dict):
                if isinstance(event.get("hostname"), str):
                    members.add("hostname:" + event["hostname"].strip().lower())
                if isinstance(event.get("_key"), str):
                    members.add("source:" + event["_key"])
        ordered = sorted(members)
        keys = [redis_keys.HEARTBEATS_WATCHED, redis_keys.HEARTBEATS_LAST_SEEN, redis_keys.HEARTBEATS_DUE]
        return sum(int(self._script(keys=keys, args=ordered[n:n + MAX_MEMBERS_PER_CALL]))
                   for n in range(0, len(ordered), MAX_MEMBERS_PER_CALL))


# ---------------------------------------------------------------- the checker (beat)

@dataclass
class Report:
    rebaselined: bool = False
    raised: list[str] = field(default_factory=list)      # names that fell quiet (one alert each)
    cleared: list[str] = field(default_factory=list)     # names heard from again
    silenced: list[str] = field(default_factory=list)    # quiet, but a silence mutes the alert
    alert_ids: list[str] = field(default_factory=list)   # outbox rows to hand to the forwarder


def check(session: Session, redis: Redis, *, team: str, alert_lease_seconds: float,
          silenced: Silenced = never_silenced, clock: lua.RedisClock = lua.REDIS_CLOCK,
          max_gap_ms: int = MAX_CHECK_GAP_MS) -> Report:
    """One run: raise an alert for each watched source whose deadline passed (once per quiet
    spell), clear those heard from again. Writes outbox rows in ``session``; the caller commits
    and hands ``Report.alert_ids`` to the forwarder. ``silenced`` is the silences' hook: a quiet
    source whose alert it mutes stays due and is looked at again next run."""
    if not redis.exists(redis_keys.HEARTBEATS_SYNCED):
        sync(session, redis, clock)
    reply = clock.register(redis, DUE)(keys=[redis_keys.HEARTBEATS_WATCHED, redis_keys.HEARTBEATS_LAST_SEEN,
                                             redis_keys.HEARTBEATS_DUE, redis_keys.HEARTBEATS_CHECKED_AT],
                                       args=[max_gap_ms])
    now_ms, rebaselined = int(reply[0]), bool(int(reply[1]))
    report = Report(rebaselined=rebaselined)
    now = _from_ms(now_ms)
    if rebaselined:
        log.warning("heartbeats re-baselined: the checker had not run for over %d s, or the clock moved; "
                    "every watched source gets a whole interval from now", max_gap_ms // 1000)
    else:
        due = [(_text(reply[i]), float(reply[i + 1]), None if reply[i + 2] is None else float(reply[i + 2]))
               for i in range(2, len(reply), 3)]
        _raise(session, redis, due, now, report, team=team, lease=alert_lease_seconds, silenced=silenced)
    _clear(session, redis, now, report, team=team, lease=alert_lease_seconds)
    return report


def _raise(session: Session, redis: Redis, due: list[tuple[str, float, float | None]], now: datetime, report: Report,
           *, team: str, lease: float, silenced: Silenced) -> None:
    if not due:
        return
    rows = {member(row.kind, row.name): row
            for row in session.scalars(select(Heartbeat).where(Heartbeat.name.in_([m.split(":", 1)[1] for m, _, _ in due])))}
    settled = []  # members no longer due: alerted now or before, or no longer watched
    for watched, deadline_ms, seen_ms in due:
        row = rows.get(watched)
        if row is None:
            unwatch(redis, [watched])
            continue
        if row.alerted_at is not None:
            settled.append(watched)
            continue
        quiet_since = _from_ms(seen_ms if seen_ms is not None else deadline_ms - row.interval_seconds * 1000)
        alert = _alert(row, severity=row.severity, now=now, lease=lease, team=team, event_time=quiet_since,
                       description=f"[MUTT] heartbeat: no event from {row.kind} '{row.name}' for over "
                                   f"{row.interval_seconds} s; quiet since {_iso(quiet_since)}")
        silence = silenced(alert)
        if silence is not None:
            report.silenced.append(row.name)
            continue
        session.add(Alert(**alert))
        _record_state(session, alert, "open", now)
        row.quiet_since, row.alerted_at, row.alert_id = quiet_since, now, alert["id"]
        report.raised.append(row.name)
        report.alert_ids.append(alert["id"])
        settled.append(watched)
    session.flush()
    if settled:
        # only once committed: a run that fails before finds them due again (and raises once)
        db.on_commit(session, lambda: redis.zrem(redis_keys.HEARTBEATS_DUE, *settled))


def _clear(session: Session, redis: Redis, now: datetime, report: Report, *, team: str, lease: float) -> None:
    quiet = list(session.scalars(select(Heartbeat).where(Heartbeat.alerted_at.is_not(None))))
    if not quiet:
        return
    heard = []
    for row, seen_ms in zip(quiet, last_seen(redis, quiet), strict=True):
        if seen_ms is None or row.quiet_since is None or _from_ms(seen_ms) <= row.quiet_since:
            continue
        seen = _from_ms(seen_ms)
        alert = _alert(row, severity=0, now=now, lease=lease, team=team, event_time=seen,
                       description=f"[MUTT] heartbeat: {row.kind} '{row.name}' heard from again at {_iso(seen)} "
                                   f"(quiet since {_iso(row.quiet_since)})")
        session.add(Alert(**alert))
        _record_state(session, alert, "cleared", now)
        row.quiet_since, row.alerted_at, row.alert_id = None, None, None
        report.cleared.append(row.name)
        report.alert_ids.append(alert["id"])
        heard.append((member(row.kind, row.name), seen_ms + row.interval_seconds * 1000))
    session.flush()
    if heard:
        db.on_commit(session, lambda: redis.zadd(redis_keys.HEARTBEATS_DUE, dict(heard), gt=True))


def _record_state(session: Session, alert: dict[str, Any], state: str, now: datetime) -> None:
    """The alert as operators see it (Alerts page, /api/v2/alerts): open for the quiet spell, cleared
    when the source is heard from again. One row per source, reused by its next quiet spell."""
    row = session.scalar(select(AlertState).where(AlertState.signature == alert["signature"]))
    if row is None:
        row = AlertState(signature=alert["signature"], kind="heartbeat", hostname=alert["hostname"], key="",
                         rule_name=alert["rule_name"], first_seen=now, occurrences=0, transitions=[])
        session.add(row)
    if state == "open":
        row.first_seen, row.occurrences, row.flapping = now, 1, False
        row.severity, row.team, row.environment = alert["severity"], alert["team"], alert["environment"]
    row.state, row.description, row.last_seen, row.changed_at = state, alert["description"], now, now
    row.last_event_time, row.last_sent_at, row.last_sent_state = alert["event_time"], now, state


def _alert(row: Heartbeat, *, severity: int, now: datetime, lease: float, team: str, event_time: datetime,
           description: str) -> dict[str, Any]:
    alert_id = ids.new_id()
    return {
        "id": alert_id, "kind": "heartbeat", "state": "pending", "rule_id": None, "rule_name": "heartbeat",
        "hostname": row.name[:255], "team": team[:100], "severity": severity, "decision": DECISION,
        "environment": "prod", "signature": (SIGNATURE_PREFIX + row.name)[:255], "description": description,
        "event_time": event_time, "correlation_id": alert_id,
        "event": {"heartbeat_id": row.id, "kind": row.kind, "name": row.name,
                  "interval_seconds": row.interval_seconds, "quiet_since": _iso(row.quiet_since or event_time)},
        "attempts": 0, "lease_until": now + timedelta(seconds=lease), "last_error": "",
        "created_at": now, "updated_at": now,
    }


def _from_ms(ms: float | None) -> datetime:
    return datetime.fromtimestamp((ms or 0) / 1000, UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
