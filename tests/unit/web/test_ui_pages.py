"""The UI's pages as a logged-in person sees them."""

from __future__ import annotations

import re
from datetime import UTC

import pytest
from sqlalchemy import func, select

from mutt_app import dynconfig
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ApiKey, ConfigAudit
from tests.support.web import login, make_user, page_token


@pytest.fixture
def admin(client):
    make_user("root", "admin")
    login(client, "root")
    return client


@pytest.mark.parametrize("path", ["/", "/events", "/config-audit", "/settings", "/api-keys", "/users", "/silences",
                                  "/rules", "/dev-hosts", "/teams", "/heartbeats", "/dead-letters", "/alerts"])
def test_every_page_renders(admin, path):
    response = admin.get(path)
    assert response.status_code == 200, response.data[:500]
    assert b'<nav aria-label="Main">' in response.data and b"https://cdn" not in response.data


def test_dashboard_shows_rates_chart_and_state(admin):
    html = admin.get("/").get_data(as_text=True)
    hourly = html.split('aria-label="events per minute by hour">', 1)[1].split("</svg>", 1)[0]
    assert hourly.count("<rect ") == 24  # one bar per hour (the breaker's band chart has rects of its own)
    for label in ("Now", "15 min", "1 hour", "Ingest backlog", "Alerts to send", "Delivered", "Failed", "Dead letters",
                  "Moogsoft breaker", "SLOs", "Queues", "Workers"):
        assert f">{label}<" in html


def test_dashboard_slos_are_readable_and_say_their_window(admin):
    html = admin.get("/").get_data(as_text=True)
    assert "Since the counters started (less than a day of history yet)." in html
    assert ">Ingest availability<br>" in html and "<td>99.9 %</td>" in html and "<td>≤ 0.5 s</td>" in html
    assert "ingestor_availability" not in html


def test_percent_reads_like_a_person_writes_it():
    from web.ui import percent
    assert [percent(v) for v in (0.999, 0.995, 1.0, 0.99912, -0.5)] == ["99.9 %", "99.5 %", "100 %", "99.91 %", "-50 %"]


def test_dashboard_shows_the_listeners_only_once_one_ran(admin, redis):
    from mutt_app.storage import redis_keys

    assert ">Listeners<" not in admin.get("/").get_data(as_text=True)
    redis.hset(redis_keys.LISTENER_STATS, mapping={"syslog-udp:received": 10, "syslog-udp:dropped": 3})
    html = admin.get("/").get_data(as_text=True)
    assert '<tr><td>syslog-udp</td><td>10</td><td class="warn">3</td><td>0</td></tr>' in html


def test_dashboard_names_a_forwarder_that_delivers_nothing(admin):
    from datetime import datetime, timedelta

    from tests.support.alerts import insert_alerts

    insert_alerts(1, created_at=datetime.now(UTC) - timedelta(minutes=10), attempts=5,
                  last_error="HTTP 503: Service Unavailable")
    html = admin.get("/").get_data(as_text=True)
    assert re.search(r'class="flash error">forwarding is stalled: an alert has waited 6\d\d s and none was delivered '
                     r"in the last 300 s \(5 attempts, last error: HTTP 503: Service Unavailable\)<", html)


def test_settings_change_is_applied_and_audited(admin):
    response = admin.post("/settings/moog_rate_limit",
                          data={"value": "75", "reason": "new contract", "csrf_token": page_token(admin, "/settings")})
    assert response.status_code == 302
    assert dynconfig.get("moog_rate_limit") == 75
    bad = admin.post("/settings/moog_rate_limit", data={"value": "-1", "csrf_token": page_token(admin, "/settings")}, follow_redirects=True)
    assert b"must be at least" in bad.data and dynconfig.get("moog_rate_limit") == 75
    with session_scope() as session:
        row = session.scalar(select(ConfigAudit).where(ConfigAudit.table_name == "runtime_settings"))
    assert (row.changed_by, row.reason, row.new_values) == ("user:root", "new contract", {"value": 75})


def test_api_key_secret_is_shown_once_after_a_redirect_and_a_reload_makes_no_second_key(admin):
    response = admin.post("/api-keys", data={"name": "sender-a", "scopes": ["ingest"], "csrf_token": page_token(admin, "/api-keys")})
    assert response.status_code == 302 and response.headers["Location"].endswith("/api-keys#new-key")
    assert "mutt_" not in response.headers["Location"] and "mutt_" not in response.headers.get("Set-Cookie", "")
    html = admin.get("/api-keys").get_data(as_text=True)
    secret = re.search(r'id="new-key">(mutt_[^<]+)<', html).group(1)
    assert 'data-copy="new-key"' in html
    reloaded = admin.get("/api-keys").get_data(as_text=True)
    assert secret not in reloaded and 'id="new-key"' not in reloaded and reloaded.count("<td>sender-a</td>") == 1
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 1


def test_a_refused_key_redirects_with_the_reason(admin):
    response = admin.post("/api-keys", data={"name": "", "scopes": ["ingest"], "csrf_token": page_token(admin, "/api-keys")},
                          follow_redirects=True)
    assert response.status_code == 200 and b'class="flash error"' in response.data


def test_settings_show_their_limits_and_refuse_in_words(admin):
    html = admin.get("/settings").get_data(as_text=True)
    assert "<td>a whole number, at least 1</td>" in html or "a whole number, 1 to" in html
    response = admin.post("/settings/moog_rate_limit", data={"value": "fast", "csrf_token": page_token(admin, "/settings")},
                          follow_redirects=False)
    assert response.headers["Location"].endswith("/settings#setting-moog_rate_limit")
    assert "moog_rate_limit must be a whole number, got &#39;fast&#39;" in admin.get("/settings").get_data(as_text=True)


def test_disabling_a_user_asks_first_and_comes_back_to_the_row(admin):
    html = admin.get("/users").get_data(as_text=True)
    assert 'data-confirm-when="is_active=false"' in html and "(at least 12 characters)" in html
    with session_scope() as session:
        from mutt_app.access import users
        root = users.list_all(session)[0]
    response = admin.post(f"/users/{root.id}", data={"role": "admin", "is_active": "true", "csrf_token": page_token(admin, "/users")})
    assert response.headers["Location"].endswith(f"/users#user-{root.id}")


def test_admin_creates_and_disables_a_user(admin, app):
    token = page_token(admin, "/users")
    admin.post("/users", data={"username": "nina", "password": "nina's long password", "role": "viewer", "csrf_token": token})
    assert login(app.test_client(), "nina", "nina's long password").status_code == 302
    with session_scope() as session:
        from mutt_app.access import users
        nina = next(u for u in users.list_all(session) if u.username == "nina")
    admin.post(f"/users/{nina.id}", data={"role": "viewer", "is_active": "false", "csrf_token": token})
    assert login(app.test_client(), "nina", "nina's long password").status_code == 401


def test_flower_link_only_when_configured(redis, sqlite_url, monkeypatch):
    from mutt_app import config
    from web import create_app

    monkeypatch.setenv("FLOWER_URL", "http://flower.example:5555/")
    config.reset()
    client = create_app().test_client()
    make_user("fred", "viewer")
    login(client, "fred")
    assert b'href="http://flower.example:5555/"' in client.get("/").data
    monkeypatch.delenv("FLOWER_URL")
    config.reset()
