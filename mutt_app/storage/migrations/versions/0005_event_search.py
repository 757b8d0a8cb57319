"""event search: every event is audited; its message is searchable (PostgreSQL full-text index)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

No new column: unhandled events now have event_audit rows too (decision "unhandled"), so the
indexes of rule_id and alert_id become partial (an unhandled event has neither and costs them
nothing). On PostgreSQL a GIN index of the full-text vector of the event's message serves the
message search (docs/adr/0018-event-search.md); made on the partitioned table, PostgreSQL makes
it on every partition, and on each partition attached later (mutt_app.storage.partitions).
The host search uses the existing hostname index; SQLite searches without an index.
"""
from alembic import op
import sqlalchemy as sa

from mutt_app.storage.models import EVENT_SEARCH_INDEXES

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

(MESSAGE_FTS,) = EVENT_SEARCH_INDEXES
PARTIAL = {"ix_event_audit_rule_id": "rule_id", "ix_event_audit_alert_id": "alert_id"}


def upgrade() -> None:
    with op.batch_alter_table('event_audit', schema=None) as batch_op:
        for name, column in PARTIAL.items():
            batch_op.drop_index(name)
            where = sa.text(f"{column} IS NOT NULL")
            batch_op.create_index(name, [column], unique=False, postgresql_where=where, sqlite_where=where)
    if op.get_bind().dialect.name == "postgresql":
        # the expression must stay the one mutt_app.audit.queries.MESSAGE_TSVECTOR searches with
        op.execute(f"CREATE INDEX IF NOT EXISTS {MESSAGE_FTS} ON event_audit "
                   "USING gin (to_tsvector('simple'::regconfig, COALESCE(event ->> 'message', '')))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {MESSAGE_FTS}")
    with op.batch_alter_table('event_audit', schema=None) as batch_op:
        for name, column in PARTIAL.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, [column], unique=False)
