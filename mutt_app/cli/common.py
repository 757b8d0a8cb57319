"""What every command needs: settings, friendly errors instead of tracebacks."""

from __future__ import annotations

import re

import redis
from sqlalchemy.exc import OperationalError, ProgrammingError

from mutt_app import config

FRIENDLY_ERRORS = (redis.ConnectionError, redis.TimeoutError, OperationalError, ProgrammingError, RuntimeError, ValueError)


def celery_settings():
    """``celeryconfig``, imported when a command runs rather than when `mutt` is imported, so that
    a wrong setting (:class:`config.ConfigurationError`) is printed in one line like every error."""
    import celeryconfig

    return celeryconfig


def without_password(url: str) -> str:
    return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)


def explain(error: Exception) -> str:
    settings = config.get()
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
        hint = " (is `mutt up` running with this MUTT_HOME?)" if settings.embedded_redis else ""
        return f"cannot reach Redis at {without_password(settings.redis_url)}{hint}"
    if isinstance(error, OperationalError):
        return f"cannot use the database at {without_password(settings.database_url)}: {str(error.orig).strip().splitlines()[0]}"
    if isinstance(error, ProgrammingError):
        return "the database schema is missing or old: run `mutt db upgrade`"
    return str(error)
