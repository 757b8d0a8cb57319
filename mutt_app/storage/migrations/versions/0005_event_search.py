"""event search: every event is audited; its host and message are searchable (PostgreSQL indexes)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

No new column: unhandled events now have event_audit rows too (decision "unhandled"). On
PostgreSQL two GIN indexes serve the event search (docs/adr/0018-event-search.md): trigrams of the
hostname (pg_trgm: a case-insensitive substring or prefix) and the full-text vector of the
event's message. Made on the partitioned table, PostgreSQL makes them on every partition, and on
each partition attached later (mutt_app.storage.partitions). SQLite searches without an index.
"""
from alembic import op

from mutt_app.storage.models import EVENT_SEARCH_INDEXES

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

HOSTNAME_TRGM, MESSAGE_FTS = EVENT_SEARCH_INDEXES


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(f"CREATE INDEX IF NOT EXISTS {HOSTNAME_TRGM} ON event_audit USING gin (hostname gin_trgm_ops)")
    # the expression must stay the one mutt_app.audit.queries.MESSAGE_TSVECTOR searches with
    op.execute(f"CREATE INDEX IF NOT EXISTS {MESSAGE_FTS} ON event_audit "
               "USING gin (to_tsvector('simple'::regconfig, COALESCE(event ->> 'message', '')))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {MESSAGE_FTS}")
    op.execute(f"DROP INDEX IF EXISTS {HOSTNAME_TRGM}")
    # pg_trgm stays: other things in the database may use it, and it holds no data
