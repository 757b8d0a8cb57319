"""The Flask app: ingest, REST API, login and UI on one port."""

from __future__ import annotations

import re

from flask import Flask, g, request

from mutt_app import config
from mutt_app.core import ids, logs

CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def correlation_id(presented: str | None) -> str:
    """The sender's X-Correlation-ID when it is a sane token, else a new UUID (version 7)."""
    return presented if presented and CORRELATION_ID.match(presented) else ids.new_uuid()


def create_app(settings: config.Settings | None = None) -> Flask:
    """The app, over this process's services (built here; with ``settings``, over those): a
    configuration problem (:class:`config.ConfigurationError`) stops the web server as it starts."""
    import celeryconfig

    celeryconfig.check()  # ingest hands batches to Celery with these settings
    settings = config.use(settings) if settings is not None else config.get()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=14 * 86400,
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        WTF_CSRF_TIME_LIMIT=3600,
        JSON_SORT_KEYS=False,
        MUTT_SETTINGS=settings,
    )

    from web import extensions

    extensions.init_app(app)

    @app.before_request
    def _correlation_id() -> None:
        g.correlation_id = correlation_id(request.headers.get("X-Correlation-ID"))
        g.log_correlation = logs.correlation_id.set(g.correlation_id)  # every log line of this request carries it

    @app.teardown_request
    def _forget_correlation_id(_error=None) -> None:
        token = g.pop("log_correlation", None)
        if token is not None:
            try:
                logs.correlation_id.reset(token)
            except ValueError:  # torn down in another context: the thread's next request sets its own
                logs.correlation_id.set("")

    @app.after_request
    def _echo_correlation_id(response):
        response.headers.setdefault("X-Correlation-ID", getattr(g, "correlation_id", ""))
        return response

    from web import api, apidocs, auth, errors, headers, health, ingest, ui, values

    errors.init_app(app)
    values.init_app(app)
    app.register_blueprint(health.bp)
    ingest.init_app(app)
    headers.init_app(app)  # outermost: ingest's answers carry them too
    api.register(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(apidocs.bp)
    return app
