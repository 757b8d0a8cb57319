"""alerts: index (state, updated_at) for the dashboard's outbox counts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

The dashboard counts alerts delivered in the last hour and dead in the last 24 hours every few
seconds (mutt_app/operations/dashboard.py, outbox); without this index that reads every delivered
row. Retention's delete (state, updated_at < cutoff) uses it too.
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_alerts_state_updated', 'alerts', ['state', 'updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alerts_state_updated', table_name='alerts')
