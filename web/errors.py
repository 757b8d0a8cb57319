"""Error answers: JSON for machines, never an exception text, never a bare 500 page."""

from __future__ import annotations

import logging

from flask import current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from mutt_app.core import outages
from mutt_app.errors import Conflict, InvalidChange, InvalidInput, MuttError, NotFound
from mutt_app.ingest.accept import BACKLOG_RETRY_AFTER

log = logging.getLogger(__name__)

MACHINE_PREFIXES = ("/api/", "/ingest", "/health", "/metrics")

# A refusal a view lets escape, by kind (the most specific first in the error's class order).
REFUSAL_STATUS = {InvalidInput: 400, InvalidChange: 422, NotFound: 404, Conflict: 409}


def api_error(status: int, message: str, **extra):
    """The REST API's error shape: {"error": ..., "correlation_id": ...}."""
    body = {"error": message, "correlation_id": getattr(g, "correlation_id", ""), **extra}
    return jsonify(body), status


def wants_json() -> bool:
    return request.path.startswith(MACHINE_PREFIXES) or request.accept_mimetypes.best == "application/json"


def init_app(app) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if wants_json():
            response, status = api_error(error.code or 500, error.description or error.name)
            for header in ("Retry-After", "Allow"):
                if error.get_response().headers.get(header):
                    response.headers[header] = error.get_response().headers[header]
            return response, status
        return render_template("error.html", status=error.code, message=error.description), error.code

    @app.errorhandler(InvalidInput)
    @app.errorhandler(NotFound)
    @app.errorhandler(Conflict)
    def _refused(error: MuttError):
        status = next(REFUSAL_STATUS[kind] for kind in type(error).__mro__ if kind in REFUSAL_STATUS)
        if wants_json():
            return api_error(status, str(error))
        return render_template("error.html", status=status, message=str(error)), status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        dependency = outages.unavailable(error)
        if dependency is not None:
            return dependency_unavailable(dependency, error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return api_error(500, "internal error; the correlation id finds it in the logs")
        return render_template("error.html", status=500, message="Something went wrong; it has been logged."), 500


def dependency_unavailable(dependency: str, error: Exception):
    """503 with Retry-After while Redis or the database is down or hung: the caller retries.

    The page is standalone and rendered without the context processors: the usual layout, and
    Flask-Login's context processor, ask who is logged in, which needs the database.
    """
    log.warning("%s unavailable on %s %s (%s)", dependency, request.method, request.path, type(error).__name__)
    message = f"Service Unavailable - {dependency} is unavailable; retry in a few seconds"
    if wants_json():
        response, status = api_error(503, message)
    else:
        response, status = current_app.jinja_env.get_template("unavailable.html").render(message=message), 503
    return response, status, {"Retry-After": str(BACKLOG_RETRY_AFTER)}
