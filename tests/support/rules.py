"""Helpers for rule-book tests: a valid rule, the config-audit rows a change wrote."""

from __future__ import annotations

from sqlalchemy import select

from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit

GOOD_RULE = {"match_string": "LINK-DOWN", "prod_handling": "Page_and_ticket", "dev_handling": "Ignore",
             "team_assignment": "NetOps"}


def audit_rows(table: str) -> list[tuple]:
    """(operation, record id, who, why, old, new) of the config-audit rows for ``table``, oldest first."""
    with session_scope() as session:
        return [(r.operation, r.record_id, r.changed_by, r.reason, r.old_values, r.new_values)
                for r in session.scalars(select(ConfigAudit).where(ConfigAudit.table_name == table).order_by(ConfigAudit.id))]
