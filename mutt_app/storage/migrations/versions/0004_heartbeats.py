"""heartbeats: sources that must be heard from every interval_seconds

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

A new table only; docs/suppression.md, "Heartbeats".
"""
from alembic import op
import sqlalchemy as sa

import mutt_app.storage.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_time = mutt_app.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('heartbeats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('interval_seconds', sa.Integer(), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', _time, nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('updated_at', _time, nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.Column('quiet_since', _time, nullable=True),
    sa.Column('alerted_at', _time, nullable=True),
    sa.Column('alert_id', sa.String(length=36), nullable=True),
    sa.CheckConstraint("kind IN ('hostname', 'source')", name='heartbeats_kind'),
    sa.CheckConstraint('interval_seconds BETWEEN 10 AND 604800', name='heartbeats_interval_range'),
    sa.CheckConstraint('severity BETWEEN 1 AND 5', name='heartbeats_severity_range'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', name='uq_heartbeats_name'),
    )
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.create_index('ix_heartbeats_alerted_at', ['alerted_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.drop_index('ix_heartbeats_alerted_at')
    op.drop_table('heartbeats')
