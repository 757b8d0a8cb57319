"""alert lifecycle: alerts with state (alert_states), clear patterns on rules, event → alert link

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

Existing installations have no alert states: the first event of each signature after the upgrade
opens one (alerts already delivered stay in the outbox as they are; alerts still pending are
delivered as they were raised, without lifecycle information, and a clear for one of them finds
no alert state: it is audited clear_without_alert). docs/alerts.md "Upgrading". docs/alerts.md, ADR 0014.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import mutt_app.storage.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_time = mutt_app.storage.models.UTCDateTime(timezone=True)
_json = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')
_big_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('alert_states',
    sa.Column('id', _big_id, autoincrement=True, nullable=False),
    sa.Column('signature', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('flapping', sa.Boolean(), nullable=False),
    sa.Column('flapping_since', _time, nullable=True),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('rule_name', sa.String(length=120), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('first_seen', _time, nullable=False),
    sa.Column('last_seen', _time, nullable=False),
    sa.Column('last_event_time', _time, nullable=True),
    sa.Column('changed_at', _time, nullable=False),
    sa.Column('transitions', _json, nullable=True),
    sa.Column('last_sent_at', _time, nullable=True),
    sa.Column('last_sent_state', sa.String(length=10), nullable=False),
    sa.Column('last_event_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', _time, nullable=False),
    sa.Column('updated_at', _time, nullable=False),
    sa.CheckConstraint("state IN ('open', 'cleared')", name='alert_states_state'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('signature', name='uq_alert_states_signature'),
    )
    with op.batch_alter_table('alert_states', schema=None) as batch_op:
        batch_op.create_index('ix_alert_states_hostname', ['hostname'], unique=False)
        batch_op.create_index('ix_alert_states_rule_id', ['rule_id'], unique=False)
        batch_op.create_index('ix_alert_states_state_last_seen', ['state', 'last_seen'], unique=False)

    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clear_match_string', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('clear_trap_oid', sa.String(length=255), nullable=True))

    with op.batch_alter_table('event_audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_id', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_event_audit_alert_id', ['alert_id'], unique=False)

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lifecycle', _json, nullable=True))
        batch_op.create_index('ix_alerts_signature', ['signature'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_signature')
        batch_op.drop_column('lifecycle')
    with op.batch_alter_table('event_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_event_audit_alert_id')
        batch_op.drop_column('alert_id')
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.drop_column('clear_trap_oid')
        batch_op.drop_column('clear_match_string')
    with op.batch_alter_table('alert_states', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_states_state_last_seen')
        batch_op.drop_index('ix_alert_states_rule_id')
        batch_op.drop_index('ix_alert_states_hostname')
    op.drop_table('alert_states')
