"""Values from outside (query parameters, path ids, form fields, JSON bodies, runtime settings),
parsed strictly, so that a bad one is a clear refusal and never reaches the database or Moogsoft
as something they cannot take.

- A whole number is ASCII digits with an optional minus sign, within bounds: ``"²"`` (which
  ``str.isdigit`` calls a digit and ``int`` refuses), ``"٣"`` (which ``int`` reads as 3),
  ``"1_000"`` and ``"1e3"`` are not (surrounding blanks are ignored); nor is a number beyond
  ``MAX_WHOLE`` (a bigint; a page number or count is at most ``MAX_INT32``, PostgreSQL's
  ``integer``).
- A real number is finite: no NaN, no Infinity, nothing (``1e400``) that overflows to one.
- Text holds no NUL character (PostgreSQL cannot store one).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, overload

from mutt_app.errors import InvalidInput

MAX_INT32 = 2**31 - 1      # page numbers and counts: PostgreSQL's integer
MAX_WHOLE = 2**63 - 1      # any whole number: SQLite's and PostgreSQL's bigint
_WHOLE = re.compile(r"-?[0-9]+\Z", re.ASCII)
_MISSING: Any = object()
_Default = TypeVar("_Default")


class ParamError(InvalidInput):
    """A value that is not what was asked for; the message names it (the web answers 400)."""


@overload
def whole_number(raw: Any, name: str, *, minimum: int | None = None, maximum: int = MAX_WHOLE) -> int: ...


@overload
def whole_number(raw: Any, name: str, *, default: _Default, minimum: int | None = None,
                 maximum: int = MAX_WHOLE) -> int | _Default: ...


def whole_number(raw: Any, name: str, *, default: Any = _MISSING, minimum: int | None = None,
                 maximum: int = MAX_WHOLE) -> Any:
    """``raw`` (a string, or an int from JSON) as an int within [minimum, maximum]; ``default``
    when it is absent or blank (ParamError when there is no default)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if default is _MISSING:
            raise ParamError(f"{name}: required")
        return default
    value: int | None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str) and _WHOLE.match(raw.strip()):
        value = int(raw.strip()) if len(raw.strip()) <= 20 else None  # beyond: out of any range
    else:
        raise ParamError(f"{name} must be a whole number, got {_show(raw)}")
    low = minimum if minimum is not None else -MAX_WHOLE
    if value is None or not low <= value <= maximum:
        raise ParamError(f"{name} must be between {low} and {maximum}, got {_show(raw)}")
    return value


def record_id(raw: Any, name: str = "id") -> int:
    """A database id: a whole number from 1 to MAX_WHOLE (the largest bigint; an integer id column
    compared with a larger number finds nothing, while the driver would overflow)."""
    return whole_number(raw, name, minimum=1, maximum=MAX_WHOLE)


def finite_number(raw: Any, name: str) -> float:
    """``raw`` (a string or a JSON number) as a finite float."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ParamError(f"{name} must be a number, got {_show(raw)}")
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (ValueError, OverflowError):
        raise ParamError(f"{name} must be a number, got {_show(raw)}") from None
    if not math.isfinite(value):
        raise ParamError(f"{name} must be a finite number, got {_show(raw)}")
    return value


def text(raw: Any, name: str) -> str:
    """``raw`` as a string without NUL characters."""
    if not isinstance(raw, str):
        raise ParamError(f"{name} must be a string, got {_show(raw)}")
    if "\x00" in raw:
        raise ParamError(f"{name} must not contain NUL characters")
    return raw


def has_nul(value: Any) -> bool:
    """Whether a string anywhere in ``value`` (a JSON value) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    return False


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


TIME_RANGES = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
TIME_RANGE_NAMES = {"15m": "15 min", "1h": "1 hour", "24h": "24 hours", "7d": "7 days"}


def time_range_start(raw: Any, name: str = "since", now: datetime | None = None) -> datetime | None:
    """The start of "the last ``raw``" (one of ``TIME_RANGES``, any case), or None when ``raw`` is
    absent or blank: every list's time-range picker, in the UI and the API."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    key = raw.strip().lower() if isinstance(raw, str) else None
    if key not in TIME_RANGES:
        raise ParamError(f"{name} must be one of {', '.join(TIME_RANGES)}, got {_show(raw)}")
    return (now or datetime.now(UTC)) - TIME_RANGES[key]
