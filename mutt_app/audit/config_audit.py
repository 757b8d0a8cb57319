"""The config audit trail: who changed what, from what to what, and why.

Callers write the row in the same session (transaction) as the change itself, so a change
without its audit row cannot be committed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mutt_app.storage.models import ConfigAudit


def record(
    session: Session,
    *,
    actor: str,
    operation: str,
    table: str,
    record_id: Any,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    reason: str = "",
    correlation_id: str = "",
) -> ConfigAudit:
    row = ConfigAudit(
        changed_by=actor[:120],
        operation=operation,
        table_name=table,
        record_id=str(record_id)[:255],
        old_values=old,
        new_values=new,
        reason=reason or "",
        correlation_id=(correlation_id or "")[:64],
    )
    session.add(row)
    return row
