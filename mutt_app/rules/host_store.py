"""Development hosts (their events are handled as dev) and device teams (who owns a box): list,
add, change, remove. Like rules, every change is validated, audited in the same transaction and,
once committed, seen by every alerter worker (``rulebook.changed``). Hostnames compare
case-insensitively, as matching does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutt_app.audit import config_audit
from mutt_app.rules.rulebook import changed
from mutt_app.rules.validation import AlreadyExists, valid_hostname, valid_team
from mutt_app.storage.models import DevelopmentHost, DeviceTeam

HOSTS_TABLE, TEAMS_TABLE = "development_hosts", "device_teams"

_Host = TypeVar("_Host", DevelopmentHost, DeviceTeam)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _find(session: Session, model: type[_Host], hostname: str) -> _Host | None:
    """The row for ``hostname``, compared case-insensitively (as matching does)."""
    return session.scalars(select(model).where(func.lower(model.hostname) == hostname.lower())).first()


def list_dev_hosts(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(DevelopmentHost).order_by(DevelopmentHost.hostname))
    return [{"hostname": r.hostname, "created_at": _iso(r.created_at), "created_by": r.created_by} for r in rows]


def add_dev_host(session: Session, hostname: Any, *, actor: str, reason: str = "", correlation_id: str = "") -> dict[str, Any]:
    hostname = valid_hostname(hostname)
    if _find(session, DevelopmentHost, hostname) is not None:
        raise AlreadyExists(f"{hostname} is already a development host")
    session.add(DevelopmentHost(hostname=hostname, created_by=actor[:120]))
    config_audit.record(session, actor=actor, operation="CREATE", table=HOSTS_TABLE, record_id=hostname,
                 new={"hostname": hostname}, reason=reason, correlation_id=correlation_id)
    session.flush()
    changed(session)
    return {"hostname": hostname}


def remove_dev_host(session: Session, hostname: str, *, actor: str, reason: str = "", correlation_id: str = "") -> None:
    row = _find(session, DevelopmentHost, str(hostname))
    if row is None:
        raise LookupError(f"{hostname} is not a development host")
    config_audit.record(session, actor=actor, operation="DELETE", table=HOSTS_TABLE, record_id=row.hostname,
                 old={"hostname": row.hostname}, reason=reason, correlation_id=correlation_id)
    session.delete(row)
    session.flush()
    changed(session)


def list_teams(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(DeviceTeam).order_by(DeviceTeam.hostname))
    return [{"hostname": r.hostname, "team_assignment": r.team_assignment, "updated_at": _iso(r.updated_at),
             "updated_by": r.updated_by} for r in rows]


def set_team(session: Session, hostname: Any, team: Any, *, actor: str, reason: str = "", correlation_id: str = "",
             must_exist: bool | None = None) -> dict[str, Any]:
    """Assign ``hostname`` to ``team``. ``must_exist``: True = only change (LookupError if none),
    False = only add (AlreadyExists if there is one), None = either."""
    hostname, team = valid_hostname(hostname), valid_team(team)
    row = _find(session, DeviceTeam, hostname)
    if row is None and must_exist:
        raise LookupError(f"{hostname} has no device team")
    if row is not None and must_exist is False:
        raise AlreadyExists(f"{row.hostname} already has a device team ({row.team_assignment})")
    if row is None:
        row = DeviceTeam(hostname=hostname, team_assignment=team, updated_by=actor[:120])
        session.add(row)
        config_audit.record(session, actor=actor, operation="CREATE", table=TEAMS_TABLE, record_id=hostname,
                     new={"hostname": hostname, "team_assignment": team}, reason=reason, correlation_id=correlation_id)
    else:
        old = {"hostname": row.hostname, "team_assignment": row.team_assignment}
        row.team_assignment, row.updated_by = team, actor[:120]
        row.updated_at = datetime.now(UTC)
        config_audit.record(session, actor=actor, operation="UPDATE", table=TEAMS_TABLE, record_id=row.hostname,
                     old=old, new={"hostname": row.hostname, "team_assignment": team}, reason=reason,
                     correlation_id=correlation_id)
    session.flush()
    changed(session)
    return {"hostname": row.hostname, "team_assignment": row.team_assignment}


def remove_team(session: Session, hostname: str, *, actor: str, reason: str = "", correlation_id: str = "") -> None:
    row = _find(session, DeviceTeam, str(hostname))
    if row is None:
        raise LookupError(f"{hostname} has no device team")
    config_audit.record(session, actor=actor, operation="DELETE", table=TEAMS_TABLE, record_id=row.hostname,
                 old={"hostname": row.hostname, "team_assignment": row.team_assignment}, reason=reason,
                 correlation_id=correlation_id)
    session.delete(row)
    session.flush()
    changed(session)
