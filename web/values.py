"""What the Flask app accepts as values (the ingest paths parse their own bodies: mutt_app.ingest.events).

- JSON bodies: NaN, Infinity and numbers that overflow to infinity (``1e400``) are not JSON MUTT
  reads, and a NUL character in any string is refused (PostgreSQL cannot store it); answers are
  written with ``allow_nan=False``, so none can carry a bare NaN/Infinity (a non-finite float
  stored before, e.g. in an old SQLite audit row, is written as the string "inf" or "nan").
- Query parameters, form fields and the path: a NUL character anywhere is a 400.
- Ids in the path are bounded by their column: ``<int:...>`` at most 2^31-1, ``<bigint:...>``
  at most 2^63-1; beyond, the route does not match (404).
- ``mutt_app.core.params.ParamError`` raised by a view (a bad number or id) is a 400, like every
  ``InvalidInput`` (web/errors.py).
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from mutt_app.core import params


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number MUTT accepts")


def _finite(text: str) -> float:
    return params.finite_number(text, "number")


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, minus the non-finite numbers and NUL characters JSON should not carry."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _no_constant)
        kwargs.setdefault("parse_float", _finite)
        value = json.loads(s, **kwargs)
        escaped_nul = b"\\u0000" in s if isinstance(s, bytes) else "\\u0000" in s
        if escaped_nul and params.has_nul(value):
            raise ValueError("strings must not contain NUL characters")
        return value

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        try:
            return super().dumps(obj, **kwargs)
        except ValueError:  # a non-finite float stored before MUTT refused them: written as text
            return super().dumps(_finite_only(obj), **kwargs)


def _finite_only(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its text ("inf", "nan")."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _finite_only(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_only(item) for item in value]
    return value


class Int32(IntegerConverter):
    """``<int:...>`` in a route: an id of an ``integer`` column (rules, users, API keys), so a
    larger one is a 404 rather than PostgreSQL's "integer out of range" (or SQLite's overflow)."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int | None = params.MAX_INT32,
                 signed: bool = False) -> None:  # noqa: A002 - werkzeug's argument names
        super().__init__(url_map, fixed_digits, min, max, signed)


class BigInt(Int32):
    """``<bigint:...>``: an id of a ``bigint`` column (dead letters)."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int | None = params.MAX_WHOLE,
                 signed: bool = False) -> None:  # noqa: A002
        super().__init__(url_map, fixed_digits, min, max, signed)


def _refuse_nul() -> None:
    fields = [request.args, request.form] if request.method == "POST" else [request.args]
    if "\x00" in request.path or any(
        "\x00" in key or "\x00" in value for values in fields for key, value in values.items(multi=True)
    ):
        abort(400, "NUL characters are not accepted in the path, query parameters or form fields")


def init_app(app: Flask) -> None:
    """Before any blueprint is registered (the int converter applies to routes added later)."""
    app.url_map.converters.update(int=Int32, bigint=BigInt)
    app.json = StrictJSONProvider(app)
    app.before_request(_refuse_nul)
