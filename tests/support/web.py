"""Helpers for tests that log in to the web UI."""

from __future__ import annotations

import re

from mutt_app import config, services
from mutt_app.access import users
from mutt_app.storage.db import session_scope

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def make_user(username: str, role: str, password: str = PASSWORD) -> None:
    with session_scope() as session:
        users.create(session, username, password, role, actor="test")


def login(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


def page_token(client, path: str = "/") -> str:
    """A CSRF token from a page the logged-in client can see."""
    return csrf_token(client.get(path).get_data(as_text=True))


def admin_key(scopes=("admin",), name: str = "test-admin") -> str:
    """A fresh API key with ``scopes``; returns the secret."""
    from mutt_app.access import api_keys
    with session_scope() as session:
        _, secret = api_keys.create(session, name, list(scopes), actor="test")
    forget_keys()
    return secret


def forget_keys() -> None:
    """Drop this process's key cache (it re-reads keys at most once a second)."""
    import web.security

    services.current().forget(web.security.API_KEYS)


def fresh_app():
    """A test app built from the current environment, over services of its own."""
    from web import create_app

    config.reset()
    app = create_app()
    app.config.update(TESTING=True)
    return app
