"""SQLAlchemy engines and sessions: one engine per process and database URL, kept by the process's
services (:mod:`mutt_app.services`), which make it with :func:`connect`."""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Engine, Result, Table, any_, bindparam, create_engine, event, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from mutt_app import config, services
from mutt_app.core import json_bytes

log = logging.getLogger(__name__)


def timeout() -> float:
    """Seconds to wait to connect, for a pooled connection, or (SQLite) for a lock (DATABASE_TIMEOUT)."""
    return config.number("DATABASE_TIMEOUT", float)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(timeout() * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def engine(url: str | None = None) -> Engine:
    """This process's engine for ``url`` (default: the configured database)."""
    return _database(url)[0]


def _database(url: str | None) -> tuple[Engine, sessionmaker[Session]]:
    """This process's engine and session factory for ``url`` (default: the configured database);
    a forked child makes its own and leaves the parent's connections to the parent."""
    process = services.current()
    url = url or config.of(process).database_url
    return process.own(("database", url), lambda: connect(url), close=lambda found: found[0].dispose(),
                       after_fork=lambda found: found[0].dispose(close=False))


def _create_private(path: str) -> None:
    """Create the SQLite file 0600 if it does not exist yet; anything else (it exists, or the path
    cannot be a file) is left for SQLite to report when it connects, as an outage the callers know."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        pass


def connect(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """A new engine for ``url`` and its session factory (:func:`engine` and :func:`session_scope`
    keep one per process and URL)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            # password and key digests: a new database is its owner's alone from the start
            # (SQLite gives its -wal and -shm files the database file's mode)
            _create_private(path.split("?", 1)[0])
        eng = create_engine(url, connect_args={"timeout": timeout(), "check_same_thread": False},
                            pool_timeout=timeout())
        event.listen(eng, "connect", _sqlite_pragmas)
    else:
        eng = create_engine(url, pool_size=5, max_overflow=10, pool_timeout=timeout(),
                            connect_args=_postgresql_limits(), json_serializer=json_bytes.encode)
        _ping_when_idle(eng)
    return eng, sessionmaker(eng, expire_on_commit=False)


PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED = "mutt_returned_at"


def _ping_when_idle(eng: Engine) -> None:
    """Test a pooled connection before handing it out when it has been idle in the pool for
    ``PING_AFTER_IDLE_SECONDS`` or more; a dead one is replaced (SQLAlchemy's ``DisconnectionError``
    from a checkout handler). ``pool_pre_ping`` pings at every checkout: one more round trip per
    transaction (about 50 µs of client CPU on the benchmark machine: docs/performance.md) for a
    connection used a millisecond ago, two per forwarder task. A server that goes away while a
    connection is in use fails that statement either way, and the pool then drops its other
    connections."""

    def returned(_dbapi_connection, record) -> None:
        record.info[_RETURNED] = time.monotonic()

    def checkout(dbapi_connection, record, _proxy) -> None:
        if time.monotonic() - record.info.get(_RETURNED, -math.inf) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            eng.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"the pooled connection is dead: {error}") from error

    event.listen(eng, "connect", returned)
    event.listen(eng, "checkin", returned)
    event.listen(eng, "checkout", checkout)


def _postgresql_limits() -> dict:
    """libpq's connect_timeout (whole seconds, at least 2) and the server's statement_timeout, so a
    database that is down or stuck on a lock costs a caller a bounded wait, never a hung thread."""
    statement_ms = int(config.number("DATABASE_STATEMENT_TIMEOUT", float) * 1000)
    return {"connect_timeout": max(2, math.ceil(timeout())), "options": f"-c statement_timeout={statement_ms}"}


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = _database(url)[1]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignoring_duplicates(session: Session, table, rows: list[dict]) -> int | None:
    """INSERT rows, skipping any whose unique key already exists; returns rows inserted, or None
    where the driver does not say (psycopg's pipelined executemany: asking with RETURNING doubled
    the cost per row).

    This is what makes redelivered work idempotent (at-least-once delivery in, exactly one row out).
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).on_conflict_do_nothing()
    return rows_changed(session.execute(statement, rows))


def insert_columns_ignoring_duplicates(session: Session, table: Table, rows: list[dict]) -> None:
    """``insert_ignoring_duplicates`` for rows that all name every column of ``table``, as one
    statement however many rows: on PostgreSQL ``INSERT ... SELECT * FROM unnest(<one array per
    column>) ON CONFLICT DO NOTHING``. An executemany runs the INSERT once per row, and on a
    partitioned table each run sets up the routing to its partition and the conflict check
    anew: for the event audit that cost PostgreSQL more than the row itself (docs/performance.md,
    "Every event audited"). Elsewhere (SQLite) it is ``insert_ignoring_duplicates``."""
    if not rows:
        return
    if not is_postgresql(session):
        insert_ignoring_duplicates(session, table, rows)
        return
    names = tuple(column.name for column in table.columns)
    statement = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM {_unnest(table, names)} ON CONFLICT DO NOTHING"
    session.connection().exec_driver_sql(statement, _arrays(session, table, names, rows))


def lock_or_insert(session: Session, table: Table, rows: list[dict], key: str) -> list[dict[str, Any]]:
    """The rows of ``table`` whose unique column ``key`` has the values of ``rows``, locked for
    this transaction in ``key`` order (so concurrent transactions queue, never deadlock), each
    inserted as given where it does not exist yet. Returns every column of them, in ``key`` order.
    One statement on PostgreSQL (``INSERT ... SELECT FROM unnest ... ORDER BY key ON CONFLICT DO
    UPDATE ... RETURNING``); on SQLite, whose writes serialise anyway, a multi-row upsert."""
    rows = sorted(rows, key=lambda row: row[key])
    if not is_postgresql(session):
        upsert = sqlite.insert(table)
        upsert = upsert.on_conflict_do_update(index_elements=[table.c[key]], set_={key: upsert.excluded[key]})
        return [row._asdict() for row in session.execute(upsert.returning(*table.c, sort_by_parameter_order=True), rows)]
    names = tuple(rows[0])
    statement = (f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM {_unnest(table, names)} ORDER BY {key} "
                 f"ON CONFLICT ({key}) DO UPDATE SET {key} = EXCLUDED.{key} RETURNING *")
    return [dict(row._mapping) for row in session.connection().exec_driver_sql(statement, _arrays(session, table, names, rows))]


def update_by_key(session: Session, table: Table, rows: list[dict], key: str = "id") -> None:
    """Update rows of ``table``, each dict naming its row by ``key`` and the same columns to set:
    one ``UPDATE ... FROM unnest`` on PostgreSQL, an executemany elsewhere."""
    if not rows:
        return
    names = tuple(rows[0])
    if not is_postgresql(session):
        renamed = [{("_key" if name == key else name): value for name, value in row.items()} for row in rows]
        session.execute(update(table).where(table.c[key] == bindparam("_key")), renamed)
        return
    changes = ", ".join(f"{name} = new.{name}" for name in names if name != key)
    statement = f"UPDATE {table.name} SET {changes} FROM {_unnest(table, names)} WHERE {table.name}.{key} = new.{key}"
    session.connection().exec_driver_sql(statement, _arrays(session, table, names, rows))


def _arrays(session: Session, table: Table, names: tuple[str, ...], rows: list[dict]) -> dict[str, list[Any]]:
    """One list per column, each value as an INSERT binds it (JSON: text)."""
    dialect = session.get_bind().dialect
    arrays = {}
    for name in names:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[name] for row in rows]
        arrays[name] = [process(value) for value in values] if process else values
    return arrays


@functools.cache
def _unnest(table: Table, names: tuple[str, ...]) -> str:
    """``unnest(<one array per column>) AS new(<names>)`` for psycopg itself. The arrays go in
    binary form (``%(name)b``): as text, psycopg quotes every element in Python, which for JSON
    documents cost 5x the rest of the write."""
    arrays = []
    for name in names:
        # the element type without its length: a value too long is refused on insert, as by an
        # INSERT (an explicit cast to varchar(n) would cut it silently)
        element = _LENGTH.sub("", table.c[name].type.compile(dialect=postgresql.dialect()))
        arrays.append(f"CAST(%({name})b AS {element}[])")
    return f"unnest({', '.join(arrays)}) AS new({', '.join(names)})"


_LENGTH = re.compile(r"\(\d+\)")


def is_postgresql(session: Session) -> bool:
    """Whether ``session`` talks to PostgreSQL (else SQLite, the embedded run's database)."""
    return session.get_bind().dialect.name == "postgresql"


def among(session: Session, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(<one array>)``: one parameter however many
    values, so the statement's text stays the same and psycopg parses it once (an IN list of 100
    ids is 100 parameters to render, cast and parse again for every statement)."""
    if is_postgresql(session):
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def rows_changed(result: Result[Any]) -> int | None:
    """How many rows an INSERT, UPDATE or DELETE changed, or None when the driver cannot tell.
    (``Session.execute`` is typed as returning a ``Result``; for those statements it is a
    ``CursorResult``, which counts them.)"""
    count = cast(CursorResult[Any], result).rowcount
    return count if count >= 0 else None


def on_commit(session: Session, action) -> None:
    """Run ``action()`` once ``session`` commits (e.g. tell other processes to reload).

    An action that raises (Redis unreachable) is logged and reported by
    :func:`after_commit_failures`; the commit stands and the other actions still run.
    """
    session.info.setdefault("on_commit", []).append(action)


def after_commit_failures(session: Session) -> list[str]:
    """The actions that failed after ``session`` committed, each as "action: error" (already
    logged); empty when all ran. Still readable once the session is closed."""
    return session.info.get("after_commit_failures", [])


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    for action in session.info.pop("on_commit", []):
        try:
            action()
        except Exception as error:  # noqa: BLE001 - the data is committed: run the rest, tell the caller
            name = getattr(action, "__qualname__", repr(action))
            log.warning("committed, but %s failed after the commit", name, exc_info=True)
            session.info.setdefault("after_commit_failures", []).append(f"{name}: {type(error).__name__}: {error}")


@event.listens_for(Session, "after_rollback")
def _drop_on_commit(session: Session) -> None:
    session.info.pop("on_commit", None)
