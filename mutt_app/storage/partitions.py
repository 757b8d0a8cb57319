"""Monthly partitions of event_audit on PostgreSQL (named event_audit_YYYY_MM).

A DEFAULT partition (event_audit_default) made by the first migration catches any row whose
month has no partition yet, so an insert never fails for a missing month. The janitor keeps the
next months' partitions made ahead of time and drops whole months past retention.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text

TABLE = "event_audit"
DEFAULT_PARTITION = f"{TABLE}_default"
_NAME = re.compile(rf"^{TABLE}_(\d{{4}})_(\d{{2}})$")


def is_partition_name(name: str) -> bool:
    return name == DEFAULT_PARTITION or bool(_NAME.match(name))


def month_start(day: date, offset: int = 0) -> date:
    month = day.month - 1 + offset
    return date(day.year + month // 12, month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{TABLE}_{month.year:04d}_{month.month:02d}"


def existing(connection: Connection) -> list[str]:
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :table"
        ),
        {"table": TABLE},
    )
    return sorted(row[0] for row in rows)


def ensure_ahead(connection: Connection, months_ahead: int = 3, today: date | None = None) -> list[str]:
    """Create the partitions for this month and the next ``months_ahead``; returns those made.

    Rows already sitting in the DEFAULT partition for a month are moved into the new partition.
    """
    if connection.dialect.name != "postgresql":
        return []
    today = today or datetime.now(UTC).date()
    have = set(existing(connection))
    made = []
    for offset in range(months_ahead + 1):
        start, end = month_start(today, offset), month_start(today, offset + 1)
        name = partition_name(start)
        if name in have:
            continue
        bounds = {"start": start.isoformat(), "end": end.isoformat()}
        # PostgreSQL refuses a new partition while DEFAULT holds rows of its range: move them.
        connection.execute(text(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS)"))
        connection.execute(
            text(
                f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE received_at >= :start "
                f"AND received_at < :end RETURNING *) INSERT INTO {name} SELECT * FROM moved"
            ),
            bounds,
        )
        connection.execute(
            text(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ('{start}') TO ('{end}')")
        )
        made.append(name)
    return made


def drop_older_than(connection: Connection, keep_from: date) -> list[str]:
    """Drop whole monthly partitions that end before ``keep_from``; returns those dropped."""
    if connection.dialect.name != "postgresql":
        return []
    dropped = []
    for name in existing(connection):
        match = _NAME.match(name)
        if not match:
            continue
        end = month_start(date(int(match[1]), int(match[2]), 1), 1)
        if end <= keep_from:
            connection.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
    return dropped
