"""silences (maintenance windows), and the silence that muted an audited event

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

docs/suppression.md, ADR 0015.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import mutt_app.storage.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_time = mutt_app.storage.models.UTCDateTime(timezone=True)
_json = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('silences',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('matchers', _json, nullable=False),
    sa.Column('starts_at', _time, nullable=False),
    sa.Column('ends_at', _time, nullable=True),
    sa.Column('rrule', sa.String(length=500), nullable=True),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', _time, nullable=False),
    sa.Column('updated_at', _time, nullable=False),
    sa.Column('expired_at', _time, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('silences', schema=None) as batch_op:
        batch_op.create_index('ix_silences_expired_at', ['expired_at'], unique=False)
    with op.batch_alter_table('event_audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('silence_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('event_audit', schema=None) as batch_op:
        batch_op.drop_column('silence_id')
    with op.batch_alter_table('silences', schema=None) as batch_op:
        batch_op.drop_index('ix_silences_expired_at')
    op.drop_table('silences')
