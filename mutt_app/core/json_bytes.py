"""JSON as bytes, in one place: the documents MUTT writes to PostgreSQL's JSON columns and the
bodies it sends to Moogsoft."""

from __future__ import annotations

import json
from typing import Any

import orjson


class Raw:
    """JSON text that goes into a document as it is, never parsed and encoded again (a JSON
    column of a claimed alert, as PostgreSQL gives it: moog.payload)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def encode(document: Any) -> bytes:
    """``document`` as compact JSON. orjson, at about a tenth of the json module's CPU (the audit
    writes one document per event, the forwarder one body per request: docs/performance.md);
    what orjson cannot encode (an integer beyond 64 bits, a string with a lone surrogate) the json
    module does. A NaN or an infinity has no JSON form: orjson writes null, the json module raises
    ValueError. None reaches MUTT's documents from outside: ingest refuses them in events."""
    try:
        return orjson.dumps(document, default=_embedded)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(document, allow_nan=False, default=_parsed).encode()


def _embedded(value: Any) -> Any:
    if isinstance(value, Raw):
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _parsed(value: Any) -> Any:
    if isinstance(value, Raw):
        return json.loads(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON")
