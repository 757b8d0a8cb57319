"""What every command needs: this process's services, friendly errors instead of tracebacks."""

from __future__ import annotations

import click
import redis
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from mutt_app import config
from mutt_app.errors import MuttError, without_password
from mutt_app.storage import db, redis_client

FRIENDLY_ERRORS = (redis.ConnectionError, redis.TimeoutError, OperationalError, ProgrammingError, RuntimeError, ValueError)


class Group(click.Group):
    """The `mutt` group: a :class:`MuttError` from any command (a refused value, a missing thing,
    a wrong setting) is printed as ``Error: <message>``, exit status 1, never as a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MuttError as error:
            raise click.ClickException(str(error)) from None


def celery_settings():
    """``celeryconfig`` (its queue names), imported when a command runs rather than when `mutt` is."""
    import celeryconfig

    return celeryconfig


def start() -> config.Settings:
    """What a command that runs MUTT or acts on it calls first: every setting checked (celeryconfig's
    combinations too) and read into this process's services, so that a wrong setting
    (:class:`config.ConfigurationError`) stops the command here, before it starts or changes
    anything, printed in one line like every error."""
    from mutt_app.celery_app import check_settings

    return check_settings()


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


def require_redis(doing: str) -> None:
    """Stop, before anything is changed, when the Redis through which running MUTT processes
    learn of a change does not answer: one line, no traceback."""
    try:
        redis_client.get().ping()
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise click.ClickException(f"{explain(error)}; {doing} needs it. Nothing was changed.") from None


def require_told(session: Session, done: str, again: str) -> None:
    """After ``session`` committed ``done``: say so, in one line, when running MUTT processes
    could not be told (an action after the commit failed), and what to run once Redis answers."""
    failures = db.after_commit_failures(session)
    if failures:
        raise click.ClickException(f"{done}, but running MUTT processes were not told ({failures[0]}); "
                                   f"once Redis answers, run {again}")
