"""A WSGI app that echoes what it was given, behind web.front.Front, for the front layer's tests.

`granian --factory tests.support.front:serve` serves it; FRONT_* environment variables set the limits.
"""

from __future__ import annotations

import json
import os

from web.front import Front

calls = 0  # requests that reached the app (GET /_calls tells)


def echo(environ, start_response):
    global calls
    if environ["PATH_INFO"] == "/_calls":
        payload = json.dumps({"calls": calls}).encode()
    elif environ["PATH_INFO"] == "/_fail":
        raise RuntimeError("an app that fails outside any error handler")
    else:
        calls += 1
        shown = {name: value for name, value in environ.items() if isinstance(value, str)}
        payload = json.dumps({**shown, "body": environ["wsgi.input"].read().decode("latin-1")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def serve() -> Front:
    return Front(echo, threads=2, body_timeout=float(os.environ.get("FRONT_BODY_TIMEOUT", "1")),
                 per_client=int(os.environ.get("FRONT_PER_CLIENT", "3")), max_body=1000)
