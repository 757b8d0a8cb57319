"""SQLAlchemy engine and sessions, one engine per process and database URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from mutt_app import config

_engines: dict[str, tuple[int, Engine, sessionmaker[Session]]] = {}

# From this many rows, PostgreSQL gets them by COPY (about half the client CPU per row of a
# pipelined executemany); below it the extra statements of the staging table cost more.
COPY_FROM_ROWS = 50
_STAGED = "mutt_staging_tables"  # connection info: staging tables this connection has


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: the configured database), rebuilt after a fork."""
    return _entry(url)[1]


def _entry(url: str | None) -> tuple[int, Engine, sessionmaker[Session]]:
    url = url or config.get().database_url
    entry = _engines.get(url)
    if entry is None or entry[0] != os.getpid():
        if entry is not None:
            entry[1].dispose(close=False)  # the parent's connections belong to the parent
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            eng = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(eng, "connect", _sqlite_pragmas)
        else:
            eng = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
            event.listen(eng, "rollback", _forget_staging_tables)
        entry = (os.getpid(), eng, sessionmaker(eng, expire_on_commit=False))
        _engines[url] = entry
    return entry


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = _entry(url)[2]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignoring_duplicates(session: Session, table, rows: list[dict]) -> int:
    """INSERT rows, skipping any whose unique key already exists; returns rows inserted.

    This is what makes redelivered work idempotent (at-least-once delivery in, exactly one row out).
    """
    if not rows:
        return 0
    if session.get_bind().dialect.name != "postgresql":
        return max(session.execute(sqlite.insert(table).on_conflict_do_nothing(), rows).rowcount or 0, 0)
    if len(rows) >= COPY_FROM_ROWS:
        return _copy_ignoring_duplicates(session, table, rows)
    # counted by RETURNING: psycopg reports no row count for an executemany
    statement = postgresql.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return len(session.execute(statement, rows).all())


def _copy_ignoring_duplicates(session: Session, table: Table, rows: list[dict]) -> int:
    """``insert_ignoring_duplicates`` on PostgreSQL by COPY into a temporary staging table shaped
    like ``table`` (emptied at commit), then one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.

    Values go through the columns' own bind processing and Python defaults, as an INSERT's would;
    columns the rows leave out that have neither keep their server defaults. A value PostgreSQL
    refuses raises the SQLAlchemy exception an INSERT would have raised (DataError ...)."""
    connection = session.connection()
    dialect = connection.dialect
    columns = [column for column in table.columns if column.name in rows[0] or column.default is not None]
    processors = [column.type._cached_bind_processor(dialect) for column in columns]
    defaults = [_python_default(column) for column in columns]
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(column.name) for column in columns)
    staging = quote(f"staging_{table.name}")
    staged = connection.info.setdefault(_STAGED, set())
    if staging not in staged:
        # columns only, no constraints: a column the rows leave out gets its server default at INSERT
        connection.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS "
                                   f"AS SELECT * FROM {quote(table.name)} WITH NO DATA")
        staged.add(staging)
    statement = f"COPY {staging} ({names}) FROM STDIN"
    driver = connection.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([
                    (process(row[column.name]) if process else row[column.name]) if column.name in row else default()
                    for column, process, default in zip(columns, processors, defaults)
                ])
    except driver.Error as error:
        raise DBAPIError.instance(statement, None, error, type(driver).Error, dialect=dialect) from error
    result = connection.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} FROM {staging} ON CONFLICT DO NOTHING")
    return max(result.rowcount or 0, 0)


def _python_default(column):
    """A function giving ``column``'s Python-side default (None when it has none)."""
    default = column.default
    if default is None:
        return lambda: None
    if default.is_scalar:
        return lambda: default.arg
    if default.is_callable:
        return lambda: default.arg(None)  # SQLAlchemy wraps a no-argument callable to take a context
    raise ValueError(f"column {column.name}: a SQL default cannot be staged for COPY")


def _forget_staging_tables(connection) -> None:
    """A rollback may have undone a staging table's creation: create it again on next use."""
    connection.info.pop(_STAGED, None)


def dispose_all() -> None:
    for _, eng, _ in _engines.values():
        eng.dispose()
    _engines.clear()


def on_commit(session: Session, action) -> None:
    """Run ``action()`` once ``session`` commits (e.g. tell other processes to reload)."""
    session.info.setdefault("on_commit", []).append(action)


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    for action in session.info.pop("on_commit", []):
        action()


@event.listens_for(Session, "after_rollback")
def _drop_on_commit(session: Session) -> None:
    session.info.pop("on_commit", None)
