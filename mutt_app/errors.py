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
