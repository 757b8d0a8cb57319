"""Which errors mean that Redis, the broker or the database is down, hung or overloaded.

Such an error is no bug and no bad input: a web request answers 503 with Retry-After (the caller
retries), a task retries later. Everything else is a bug and is handled as one.
"""

from __future__ import annotations

from mutt_app.errors import DependencyDown

REDIS, BROKER, DATABASE = "Redis", "the message broker", "the database"


def unavailable(error: BaseException) -> str | None:
    """The dependency (REDIS, BROKER or DATABASE) that ``error`` says is unavailable, or None."""
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout
    from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(error, DependencyDown):
        return error.dependency
    if isinstance(error, (RedisConnectionError, RedisTimeout)):  # refused, reset, loading, or no answer in time
        return REDIS
    if isinstance(error, BrokerError):
        return BROKER
    if isinstance(error, (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):  # refused, gone, locked (SQLite), statement_timeout, or no pooled connection in time
        return DATABASE
    return None
