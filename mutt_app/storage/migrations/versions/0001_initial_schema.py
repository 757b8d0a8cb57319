"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25

All of MUTT 3's tables. On PostgreSQL event_audit is range-partitioned by month of
received_at, with a DEFAULT partition so no insert fails for a month without a partition.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import mutt_app.storage.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('rule_name', sa.String(length=120), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=100), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('signature', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('event_time', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('correlation_id', sa.String(length=64), nullable=False),
    sa.Column('event', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'sending', 'delivered', 'dead')", name='alerts_state'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_state_lease', ['state', 'lease_until'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=120), nullable=False),
    sa.Column('created_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('expires_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prefix')
    )
    op.create_table('config_audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('changed_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=120), nullable=False),
    sa.Column('operation', sa.String(length=10), nullable=False),
    sa.Column('table_name', sa.String(length=50), nullable=False),
    sa.Column('record_id', sa.String(length=255), nullable=False),
    sa.Column('old_values', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('new_values', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=False),
    sa.CheckConstraint("operation IN ('CREATE', 'UPDATE', 'DELETE')", name='config_audit_operation'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('config_audit', schema=None) as batch_op:
        batch_op.create_index('ix_config_audit_changed_at', ['changed_at'], unique=False)
        batch_op.create_index('ix_config_audit_record', ['table_name', 'record_id'], unique=False)

    op.create_table('dead_letters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('ref_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=50), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('replays', sa.Integer(), nullable=False),
    sa.Column('next_replay_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_failed_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_failed_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('waiting', 'replayed', 'poison')", name='dead_letters_state'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'ref_id', name='uq_dead_letters_ref')
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index('ix_dead_letters_state_next', ['state', 'next_replay_at'], unique=False)

    op.create_table('development_hosts',
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('created_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('hostname')
    )
    op.create_table('device_teams',
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('team_assignment', sa.String(length=100), nullable=False),
    sa.Column('updated_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('hostname')
    )
    op.create_table('event_audit',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('received_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event_time', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('rule_name', sa.String(length=120), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('decision', sa.String(length=100), nullable=False),
    sa.Column('forwarded', sa.Boolean(), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=False),
    sa.Column('event', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'received_at'),
    postgresql_partition_by='RANGE (received_at)'
    )
    with op.batch_alter_table('event_audit', schema=None) as batch_op:
        batch_op.create_index('ix_event_audit_correlation_id', ['correlation_id'], unique=False)
        batch_op.create_index('ix_event_audit_hostname', ['hostname'], unique=False)
        batch_op.create_index('ix_event_audit_received_at', ['received_at'], unique=False)
        batch_op.create_index('ix_event_audit_rule_id', ['rule_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE event_audit_default PARTITION OF event_audit DEFAULT")

    op.create_table('rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('match_string', sa.String(length=255), nullable=True),
    sa.Column('trap_oid', sa.String(length=255), nullable=True),
    sa.Column('syslog_severity', sa.Integer(), nullable=True),
    sa.Column('match_type', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('prod_handling', sa.String(length=100), nullable=False),
    sa.Column('dev_handling', sa.String(length=100), nullable=False),
    sa.Column('team_assignment', sa.String(length=100), nullable=False),
    sa.Column('moog_severity', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.CheckConstraint("match_type IN ('contains', 'regex', 'oid_prefix')", name='rules_match_type'),
    sa.CheckConstraint('match_string IS NOT NULL OR trap_oid IS NOT NULL', name='rules_has_criteria'),
    sa.CheckConstraint('moog_severity BETWEEN 0 AND 5', name='rules_moog_severity_range'),
    sa.CheckConstraint('syslog_severity IS NULL OR syslog_severity BETWEEN 0 AND 7', name='rules_severity_range'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.create_index('ix_rules_active_priority', ['is_active', 'priority', 'id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('session_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', mutt_app.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name='users_role'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_token'),
    sa.UniqueConstraint('username')
    )


def downgrade() -> None:
    op.drop_table('users')
    with op.batch_alter_table('rules', schema=None) as batch_op:
        batch_op.drop_index('ix_rules_active_priority')

    op.drop_table('rules')
    with op.batch_alter_table('event_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_event_audit_rule_id')
        batch_op.drop_index('ix_event_audit_received_at')
        batch_op.drop_index('ix_event_audit_hostname')
        batch_op.drop_index('ix_event_audit_correlation_id')

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DO $$ DECLARE p text; BEGIN FOR p IN SELECT c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class t ON t.oid = i.inhparent "
            "WHERE t.relname = 'event_audit' LOOP EXECUTE format('DROP TABLE %I', p); END LOOP; END $$"
        )
    op.drop_table('event_audit')
    op.drop_table('device_teams')
    op.drop_table('development_hosts')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index('ix_dead_letters_state_next')

    op.drop_table('dead_letters')
    with op.batch_alter_table('config_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_config_audit_record')
        batch_op.drop_index('ix_config_audit_changed_at')

    op.drop_table('config_audit')
    op.drop_table('api_keys')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_state_lease')

    op.drop_table('alerts')
