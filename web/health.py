"""Health and metrics endpoints (no authentication: load balancers and Prometheus use them)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from mutt_app import __version__, redis_client
from mutt_app.db import engine

bp = Blueprint("health", __name__)


def check_dependencies() -> dict[str, str]:
    """'ok' or what went wrong, for Redis and the database."""
    results = {}
    try:
        redis_client.get().ping()
        results["redis"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        results["redis"] = f"unreachable: {type(error).__name__}"
    try:
        with engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        results["database"] = "ok"
    except Exception as error:  # noqa: BLE001
        results["database"] = f"unreachable: {type(error).__name__}"
    return results


@bp.get("/health")
def health():
    checks = check_dependencies()
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "healthy" if healthy else "unhealthy", "service": "mutt-web", "version": __version__, **checks}
    return jsonify(body), 200 if healthy else 503
