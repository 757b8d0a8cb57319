"""What went wrong, in the few kinds a caller can act on.

Every error MUTT raises on purpose is a :class:`MuttError`; its message is written for the
person who reads it (an operator, a sender) and holds no secret. A caller catches the kind it
means: the web answers :class:`InvalidInput` with 400, :class:`InvalidChange` with 422,
:class:`NotFound` with 404, :class:`Conflict` with 409 and :class:`DependencyDown` with 503; the
CLI prints any MuttError in one line. Anything else that escapes is a bug and is logged as one.

The domain's own classes (``RuleError``, ``DeadLetterError``, ...) keep their names and derive
from these. The kinds also derive from the built-in exception callers caught before
(``ValueError``, ``LookupError``, ``RuntimeError``), so such a catch still holds.
"""

from __future__ import annotations

import re


class MuttError(Exception):
    """An error MUTT raises on purpose; the message says what and why, without secrets."""


class InvalidInput(MuttError, ValueError):
    """A value from outside (a request, a form, a file, a command's argument) is refused; the
    message names the value and what it must be."""


class InvalidChange(InvalidInput):
    """A change (a rule, a user, an API key, a runtime setting, a rules document) that is refused
    as given, though the request asking for it is well formed; the message says why."""


class NotFound(MuttError, LookupError):
    """The thing asked for does not exist."""


class Conflict(MuttError):
    """The change clashes with what is there (it already exists; it would remove the last admin)."""


class ConfigurationError(MuttError, RuntimeError):
    """A setting MUTT cannot run with; the message names the setting and what it must be."""


class DependencyDown(MuttError, RuntimeError):
    """Redis, the message broker or the database is down, hung or overloaded: no bug and no bad
    input; the caller retries later (the web answers 503 with Retry-After).

    Library errors that mean this (a refused Redis connection, a statement timeout) are
    recognised by :func:`mutt_app.core.outages.unavailable`; code that finds a dependency down by
    other means raises this.
    """

    def __init__(self, dependency: str, detail: str = "") -> None:
        super().__init__(f"{dependency} is unavailable" + (f": {detail}" if detail else ""))
        self.dependency = dependency


_URL_PASSWORD = re.compile(r"//([^:/@\s]*):[^@\s]*@")
_DSN_PASSWORD = re.compile(r"\b(password|passwd)=\S+", re.IGNORECASE)
BRIEF_LIMIT = 200  # characters


def without_password(text: str) -> str:
    """``text`` with the password of any URL (``//user:secret@host``) or DSN (``password=secret``) masked."""
    return _DSN_PASSWORD.sub(r"\1=***", _URL_PASSWORD.sub(r"//\1:***@", text))


def brief(error: BaseException) -> str:
    """``error`` in one line an operator may be shown: its class and the first line of its message
    (of a database error, the driver's message without the SQL), passwords masked, no traceback."""
    cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error and adds the SQL
    lines = str(cause).strip().splitlines()
    text = without_password(lines[0].strip()) if lines else ""
    return (f"{type(error).__name__}: {text}" if text else type(error).__name__)[:BRIEF_LIMIT]
