"""Fixtures the web tests share: the app on PostgreSQL, the app served over real HTTP with an
ingest key, and a client logged in as a viewer."""

import threading

import pytest
from werkzeug.serving import make_server

from mutt_app.access import api_keys
from mutt_app.storage.db import session_scope
from tests.support.web import forget_keys, fresh_app, login, make_user
from web.ingest import endpoint


@pytest.fixture
def pg_app(redis, pg_url):
    """The app on the PostgreSQL test database."""
    return fresh_app()


@pytest.fixture
def live(app):
    """The app served over HTTP on a free port; yields its base URL."""
    app.config.update(MUTT_INGEST_FLUSHER=False, MAX_CONTENT_LENGTH=64 * 1024)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    endpoint(app).pipeline().stop_flusher()


@pytest.fixture
def key(app):
    """A new API key with the ingest scope."""
    with session_scope() as session:
        _, secret = api_keys.create(session, "rsyslog dc1", ["ingest"], actor="test")
    forget_keys()
    return secret


@pytest.fixture
def viewer(client):
    """The test client, logged in as a user with the viewer role (reads every page, changes nothing)."""
    make_user("vera", "viewer")
    login(client, "vera")
    return client
