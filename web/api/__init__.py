"""The REST API under /api/v2, with /api/v1 as a deprecated alias of the same views.

One module per resource; each adds its routes to ``bp``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, request

from web.extensions import csrf

API_VERSION = "2.0"
bp = Blueprint("api", __name__)


def serving_v25() -> bool:
    """Whether this request came under /api/v1, where v2.5's answer shapes are served."""
    return request.blueprint == "api_v1"

from web.api import (  # noqa: E402,F401 - the modules register their routes on bp
    alerts,
    apikeys,
    audit,
    config,
    dead_letters,
    heartbeats,
    hosts,
    metrics,
    openapi,
    rules,
    silences,
    slo,
    teams,
    users,
)


def _version_headers(response):
    # On the app, not the blueprint: 404s and 405s under /api/ never reach the blueprint.
    if request.path.startswith("/api/"):
        response.headers["X-API-Version"] = API_VERSION
        if request.path.startswith("/api/v1/"):
            response.headers["X-API-Deprecated"] = "true"
    return response


def register(app: Flask) -> None:
    # CSRF for session-authenticated API calls is checked in web.security.api_auth.
    csrf.exempt(bp)
    app.register_blueprint(bp, url_prefix="/api/v2")
    app.register_blueprint(bp, url_prefix="/api/v1", name="api_v1")
    app.after_request(_version_headers)
