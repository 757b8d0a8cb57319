"""Login, logout, throttling, next redirects, CSRF, roles, password change."""

from __future__ import annotations

import pytest

from mutt_app import dynconfig
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from tests.support.web import PASSWORD, csrf_token, login, make_user, page_token


@pytest.fixture
def alice(app):
    make_user("alice", "operator")
    return "alice"


def test_pages_need_login(client):
    response = client.get("/config-audit")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_login_then_dashboard_then_logout(client, alice):
    response = login(client, alice)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200 and b"Dashboard" in page.data and b"alice (operator)" in page.data
    logout = client.post("/logout", data={"csrf_token": page_token(client)})
    assert logout.status_code == 302
    assert client.get("/").status_code == 302


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def test_a_session_cookie_captured_before_logout_is_refused_after_it(app, alice):
    browser = app.test_client()
    login(browser, alice)
    captured = session_cookie(browser)
    thief = app.test_client()
    thief.set_cookie("session", captured)
    assert thief.get("/").status_code == 200  # the copy works while the session lasts
    assert browser.post("/logout", data={"csrf_token": page_token(browser)}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", captured)
    assert replay.get("/").status_code == 302 and replay.get("/").headers["Location"].startswith("/login")
    assert replay.get("/api/v2/rules").status_code == 401
    assert thief.get("/").status_code == 302  # every session of the user ended
    assert login(app.test_client(), alice).status_code == 302  # logging in again works


def test_wrong_password_and_unknown_user_are_refused_alike(client, alice):
    wrong = login(client, alice, "not the password")
    unknown = login(client, "mallory", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert b"Wrong user name or password" in wrong.data and b"Wrong user name or password" in unknown.data
    assert client.get("/").status_code == 302


def test_disabled_user_cannot_log_in(client, alice):
    from mutt_app.access import users
    with session_scope() as session:
        user = next(u for u in users.list_all(session) if u.username == "alice")
        users.update(session, user, is_active=False, actor="test")
    assert login(client, alice).status_code == 401


def test_repeated_failures_for_one_user_lock_login(client, alice, redis):
    limit = dynconfig.get("login_max_failures")
    for _ in range(limit):
        assert login(client, alice, "wrong password!").status_code == 401
    locked = login(client, alice)  # even the right password waits out the lockout
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= dynconfig.get("login_lockout_seconds")
    assert b"Too many failed logins" in locked.data


def test_repeated_failures_from_one_address_lock_every_user(app, alice, redis):
    make_user("bob", "viewer")
    client = app.test_client()
    with session_scope() as session:
        dynconfig.change(session, "login_max_failures", 3, actor="test")
    for name in ("x1", "x2", "x3"):
        assert login(client, name, "guessing guessing").status_code == 401
    assert login(client, "bob").status_code == 429
    other_address = app.test_client()
    response = login_from(other_address, "bob", "10.9.9.9")
    assert response.status_code == 302


def login_from(client, username: str, address: str):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_success_clears_the_users_failures(client, alice, redis):
    limit = dynconfig.get("login_max_failures")
    for _ in range(limit - 1):
        login(client, alice, "wrong password!")
    assert login(client, alice).status_code == 302
    client.post("/logout", data={"csrf_token": page_token(client)})
    assert login(client, alice, "wrong password!").status_code == 401  # counting starts again


@pytest.mark.parametrize("target,expected", [
    ("/events?host=a", "/events?host=a"),
    ("/config-audit", "/config-audit"),
    ("https://evil.example/", "/"),
    ("//evil.example/x", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("events", "/"),
])
def test_next_redirect_stays_on_this_site(client, alice, target, expected):
    from urllib.parse import quote

    response = login(client, alice, next_url=quote(target, safe=""))
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_login_without_csrf_token_is_refused(client, alice):
    response = client.post("/login", data={"username": alice, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_form_post_without_csrf_token_is_refused(client, alice):
    login(client, alice)
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still logged in


def test_session_api_write_needs_csrf_token(client, app):
    make_user("root", "admin")
    login(client, "root")
    refused = client.post("/api/v2/users", json={"username": "eve", "password": "x" * 20, "role": "admin"})
    assert refused.status_code == 400 and refused.is_json
    token = page_token(client)
    accepted = client.post("/api/v2/users", json={"username": "eve", "password": "x" * 20, "role": "viewer"},
                           headers={"X-CSRFToken": token})
    assert accepted.status_code == 201


@pytest.mark.parametrize("path", ["/users", "/api-keys"])
def test_admin_pages_refuse_operators(client, alice, path):
    login(client, alice)
    assert client.get(path).status_code == 403


def test_viewer_cannot_change_settings(client):
    make_user("vera", "viewer")
    login(client, "vera")
    token = page_token(client, "/settings")
    response = client.post("/settings/log_level", data={"value": "DEBUG", "csrf_token": token})
    assert response.status_code == 403
    assert dynconfig.get("log_level") == "INFO"


def test_password_change_ends_the_other_sessions(app, alice):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, alice)
    login(phone, alice)
    new_password = "a much better passphrase"
    response = laptop.post("/password", data={"current": PASSWORD, "new": new_password, "confirm": new_password,
                                              "csrf_token": page_token(laptop, "/password")})
    assert response.status_code == 302
    assert laptop.get("/").status_code == 200  # the session that changed it goes on
    assert phone.get("/").status_code == 302   # the other one is over
    assert login(app.test_client(), alice).status_code == 401
    assert login(app.test_client(), alice, new_password).status_code == 302


def test_password_change_needs_the_current_password(client, alice):
    login(client, alice)
    response = client.post("/password", data={"current": "not it at all", "new": "x" * 14, "confirm": "x" * 14,
                                              "csrf_token": page_token(client, "/password")})
    assert response.status_code == 400
    assert login(client.application.test_client(), alice).status_code == 302


def change_password(client, current: str, new: str = "a much better passphrase"):
    return client.post("/password", data={"current": current, "new": new, "confirm": new,
                                          "csrf_token": page_token(client, "/password")})


def test_guessing_the_current_password_is_throttled_like_login(app, alice, redis):
    """Someone at a session left open cannot guess the password through /password: after
    login_max_failures wrong guesses even the right one waits, and login for the user is locked too."""
    client = app.test_client()
    login(client, alice)
    limit = dynconfig.get("login_max_failures")
    for _ in range(limit):
        assert change_password(client, "guess guess guess").status_code == 400
    locked = change_password(client, PASSWORD)
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= dynconfig.get("login_lockout_seconds")
    assert b"Too many wrong passwords" in locked.data
    assert login(app.test_client(), alice).status_code == 429  # the same counters as login
    assert client.get("/password").status_code == 200  # reading the form is not an attempt
    for key in redis.scan_iter(redis_keys.login_failures("*", "*")):  # the lockout over
        redis.delete(key)
    assert change_password(client, PASSWORD).status_code == 302
