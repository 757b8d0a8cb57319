"""The tables. Alembic migrations in mutt_app/storage/migrations/versions/ create exactly these."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONDocument = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in Python on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


MATCH_TYPES = ("contains", "regex", "oid_prefix")
# A rule's prod_handling / dev_handling: the first three forward to Moogsoft (compared in any case).
HANDLINGS = ("Page_and_ticket", "Page_only", "Ticket_only", "Ignore")
ROLES = ("viewer", "operator", "admin")
SCOPES = ("ingest", "read", "operator", "admin")
ALERT_STATES = ("pending", "sending", "delivered", "dead")  # an outbox row's delivery state
LIFECYCLE_STATES = ("open", "cleared")                      # an alert's state (AlertState); flapping is a flag
DEAD_LETTER_STATES = ("waiting", "replayed", "poison")
HEARTBEAT_KINDS = ("hostname", "source")                    # what a heartbeat watches: a device, or a sender/listener


class Rule(Base):
    __tablename__ = "rules"
    __table_args__ = (
        CheckConstraint("match_string IS NOT NULL OR trap_oid IS NOT NULL", name="rules_has_criteria"),
        CheckConstraint("syslog_severity IS NULL OR syslog_severity BETWEEN 0 AND 7", name="rules_severity_range"),
        CheckConstraint("moog_severity BETWEEN 0 AND 5", name="rules_moog_severity_range"),
        CheckConstraint("match_type IN ('contains', 'regex', 'oid_prefix')", name="rules_match_type"),
        Index("ix_rules_active_priority", "is_active", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    match_string: Mapped[str | None] = mapped_column(String(255))
    trap_oid: Mapped[str | None] = mapped_column(String(255))
    syslog_severity: Mapped[int | None] = mapped_column(Integer)
    match_type: Mapped[str] = mapped_column(String(20), default="contains")
    priority: Mapped[int] = mapped_column(Integer, default=100)
    prod_handling: Mapped[str] = mapped_column(String(100))
    dev_handling: Mapped[str] = mapped_column(String(100))
    team_assignment: Mapped[str] = mapped_column(String(100))
    moog_severity: Mapped[int] = mapped_column(Integer, default=3)
    # The clear pattern (same match_type; clear_trap_oid for oid_prefix rules): an event matching it clears the alert.
    clear_match_string: Mapped[str | None] = mapped_column(String(255))
    clear_trap_oid: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="system")
    updated_by: Mapped[str] = mapped_column(String(120), default="system")


class DevelopmentHost(Base):
    __tablename__ = "development_hosts"

    hostname: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="system")


class DeviceTeam(Base):
    __tablename__ = "device_teams"

    hostname: Mapped[str] = mapped_column(String(255), primary_key=True)
    team_assignment: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120), default="system")


# PostgreSQL only, made by migration 0005 on the partitioned event_audit (SQLite has no GIN), so
# not declared below: the event search's full-text index of messages (docs/adr/0018-event-search.md).
EVENT_SEARCH_INDEXES = ("ix_event_audit_message_fts",)


class EventAudit(Base):
    """One row per event the alerter decided on: matched (forwarded or not), silenced, duplicate,
    unhandled. On PostgreSQL: partitioned by month of received_at."""

    __tablename__ = "event_audit"
    __table_args__ = (
        Index("ix_event_audit_received_at", "received_at"),
        Index("ix_event_audit_hostname", "hostname"),
        # partial: an unhandled event (no rule, no alert) costs these two indexes nothing
        Index("ix_event_audit_rule_id", "rule_id", postgresql_where=text("rule_id IS NOT NULL"),
              sqlite_where=text("rule_id IS NOT NULL")),
        Index("ix_event_audit_correlation_id", "correlation_id"),
        Index("ix_event_audit_alert_id", "alert_id", postgresql_where=text("alert_id IS NOT NULL"),
              sqlite_where=text("alert_id IS NOT NULL")),
        {"postgresql_partition_by": "RANGE (received_at)"},
    )

    # The key is the event's own id: a redelivered batch cannot write a second row.
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    event_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hostname: Mapped[str] = mapped_column(String(255))
    rule_id: Mapped[int | None] = mapped_column(Integer)
    rule_name: Mapped[str] = mapped_column(String(120))
    environment: Mapped[str] = mapped_column(String(10))
    decision: Mapped[str] = mapped_column(String(100))
    forwarded: Mapped[bool] = mapped_column(Boolean)
    team: Mapped[str] = mapped_column(String(100))
    correlation_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[dict] = mapped_column(JSONDocument)
    alert_id: Mapped[int | None] = mapped_column(BigInteger)  # the AlertState this event opened, refreshed or cleared
    silence_id: Mapped[int | None] = mapped_column(Integer)  # decision "silenced": the silence that muted it


class ConfigAudit(Base):
    __tablename__ = "config_audit"
    __table_args__ = (
        CheckConstraint("operation IN ('CREATE', 'UPDATE', 'DELETE')", name="config_audit_operation"),
        Index("ix_config_audit_changed_at", "changed_at"),
        Index("ix_config_audit_record", "table_name", "record_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(120))
    operation: Mapped[str] = mapped_column(String(10))
    table_name: Mapped[str] = mapped_column(String(50))
    record_id: Mapped[str] = mapped_column(String(255))
    old_values: Mapped[dict | None] = mapped_column(JSONDocument)
    new_values: Mapped[dict | None] = mapped_column(JSONDocument)
    reason: Mapped[str] = mapped_column(Text, default="")
    correlation_id: Mapped[str] = mapped_column(String(64), default="")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="users_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A machine credential. Only a SHA-256 digest of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(120))  # comma-separated, from SCOPES
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="system")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """The outbox: one row per alert that must reach Moogsoft. Its id is the raising event's id."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sending', 'delivered', 'dead')", name="alerts_state"),
        Index("ix_alerts_state_lease", "state", "lease_until"),
        Index("ix_alerts_signature", "signature"),  # an alert's deliveries
        Index("ix_alerts_state_updated", "state", "updated_at"),  # the dashboard's delivered/dead counts, retention
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="rule")  # rule | meta
    state: Mapped[str] = mapped_column(String(10), default="pending")
    rule_id: Mapped[int | None] = mapped_column(Integer)
    rule_name: Mapped[str] = mapped_column(String(120), default="")
    hostname: Mapped[str] = mapped_column(String(255))
    team: Mapped[str] = mapped_column(String(100))
    severity: Mapped[int] = mapped_column(Integer, default=3)
    decision: Mapped[str] = mapped_column(String(100))
    environment: Mapped[str] = mapped_column(String(10))
    signature: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    event_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    correlation_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[dict] = mapped_column(JSONDocument)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the alert this request speaks for: alert_id, alert_state, occurrences, flapping (Moogsoft's custom_info)
    lifecycle: Mapped[dict | None] = mapped_column(JSONDocument)


class DeadLetter(Base):
    """An event or alert that could not be processed, kept with the reason until a human or
    remediation deals with it. ``kind`` + ``ref_id`` is unique: a thing fails into one row."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("kind", "ref_id", name="uq_dead_letters_ref"),
        CheckConstraint("state IN ('waiting', 'replayed', 'poison')", name="dead_letters_state"),
        Index("ix_dead_letters_state_next", "state", "next_replay_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))  # event | alert
    ref_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(50))
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict | list | None] = mapped_column(JSONDocument)
    state: Mapped[str] = mapped_column(String(10), default="waiting")
    replays: Mapped[int] = mapped_column(Integer, default=0)
    next_replay_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertState(Base):
    """An alert as operators and Moogsoft see it: one row per signature ("the same problem"),
    open until a clear arrives. Its deliveries to Moogsoft are outbox rows (``Alert``).
    docs/alerts.md has the model: states, signatures, clears, deduplication, flapping."""

    __tablename__ = "alert_states"
    __table_args__ = (
        UniqueConstraint("signature", name="uq_alert_states_signature"),
        CheckConstraint("state IN ('open', 'cleared')", name="alert_states_state"),
        Index("ix_alert_states_state_last_seen", "state", "last_seen"),
        Index("ix_alert_states_hostname", "hostname"),
        Index("ix_alert_states_rule_id", "rule_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    signature: Mapped[str] = mapped_column(String(255))            # what Moogsoft sees: mutt:rule:<id>:<host>:<key>
    kind: Mapped[str] = mapped_column(String(10), default="rule")   # rule | meta | heartbeat
    state: Mapped[str] = mapped_column(String(10), default="open")
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    flapping_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rule_id: Mapped[int | None] = mapped_column(Integer)
    rule_name: Mapped[str] = mapped_column(String(120), default="")
    hostname: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255), default="")       # what pairs a clear with its alert
    team: Mapped[str] = mapped_column(String(100), default="")
    severity: Mapped[int] = mapped_column(Integer, default=3)
    environment: Mapped[str] = mapped_column(String(10), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    occurrences: Mapped[int] = mapped_column(Integer, default=1)    # events since it opened
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_event_time: Mapped[datetime | None] = mapped_column(UTCDateTime)  # event time of the last event applied
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # last open/cleared transition
    transitions: Mapped[list | None] = mapped_column(JSONDocument)  # recent transition times (flap window)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sent_state: Mapped[str] = mapped_column(String(10), default="")
    last_event_id: Mapped[str] = mapped_column(String(36), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Silence(Base):
    """A maintenance window: events its matchers select are audited "silenced", not forwarded.
    A one-off window (starts_at to ends_at) or recurring (rrule, duration_seconds, time_zone).
    Expiring one sets expired_at; rows are kept for the audit. docs/suppression.md."""

    __tablename__ = "silences"
    __table_args__ = (
        Index("ix_silences_expired_at", "expired_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matchers: Mapped[list] = mapped_column(JSONDocument)            # [{field, op, value}], all must hold
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)   # one-off: the end; recurring: optional last end
    rrule: Mapped[str | None] = mapped_column(String(500))          # recurring: RFC 5545 RRULE, local to time_zone
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # expired by hand (DELETE), kept
class Heartbeat(Base):
    """A source that must be heard from at least every ``interval_seconds``: a device (its events'
    hostname) or a sender (an API key's or a listener source's name). When it falls quiet, one alert
    goes to Moogsoft; its next event clears it. docs/suppression.md, "Heartbeats"."""

    __tablename__ = "heartbeats"
    __table_args__ = (
        UniqueConstraint("name", name="uq_heartbeats_name"),
        CheckConstraint("kind IN ('hostname', 'source')", name="heartbeats_kind"),
        CheckConstraint("interval_seconds BETWEEN 10 AND 604800", name="heartbeats_interval_range"),
        CheckConstraint("severity BETWEEN 1 AND 5", name="heartbeats_severity_range"),
        Index("ix_heartbeats_alerted_at", "alerted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))                   # hostname | source
    name: Mapped[str] = mapped_column(String(255))                  # a hostname (lower case) or a source's name
    interval_seconds: Mapped[int] = mapped_column(Integer)
    severity: Mapped[int] = mapped_column(Integer, default=4)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="system")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120), default="system")
    # The quiet spell an alert was sent for (both null while the source is heard from).
    quiet_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alert_id: Mapped[str | None] = mapped_column(String(36))      # the outbox row of that alert
