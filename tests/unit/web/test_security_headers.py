"""Security headers on every answer (pages, API, health, static files, ingest, errors), and
templates that need no inline script: what the Content-Security-Policy relies on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.web import login, make_user
from web import apidocs, headers, ingest

TEMPLATES = Path(__file__).resolve().parents[3] / "web" / "templates"
SAMPLE_ARGUMENTS = {"int": "1", "path": "nohost", "default": "x"}
_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def route_paths(app) -> list[tuple[str, str]]:
    """(method, path) for every route of the app, with sample values for its arguments, and the
    ingest paths its WSGI handler answers."""
    found = set()
    for rule in app.url_map.iter_rules():
        path = _CONVERTER.sub(lambda m: SAMPLE_ARGUMENTS.get(m.group(1) or "default", "x"), rule.rule)
        found.update((method, path) for method in rule.methods - {"HEAD", "OPTIONS"})
    found.update(("POST", path) for path in ingest.PATHS)
    return sorted(found)


# The one page with its own policy: Swagger UI's stylesheet needs data: images (web/apidocs.py).
OWN_POLICY = {"/api/docs": apidocs.VIEWER_CSP}


def assert_security_headers(response, where: str, path: str = "") -> None:
    for name, value in headers.HEADERS:
        if name == "Content-Security-Policy":
            value = OWN_POLICY.get(path, value)
        assert response.headers.get(name) == value, f"{where}: {name} is {response.headers.get(name)!r}"


def test_the_policy_forbids_inline_script_and_framing():
    policy = dict(part.split(" ", 1) for part in headers.CONTENT_SECURITY_POLICY.split("; "))
    assert policy["script-src"] == "'self'" and "unsafe" not in headers.CONTENT_SECURITY_POLICY
    assert policy["frame-ancestors"] == "'none'" and policy["default-src"] == "'none'"


def test_every_route_answers_with_the_security_headers(app, client):
    """Unauthenticated (401s, 302s to login, 400s for a missing CSRF token), then as an admin
    for every page and GET of the API (200s, 404s for the sample ids)."""
    routes = route_paths(app)
    assert len(routes) > 60 and ("GET", "/api-keys") in routes and ("POST", "/api/v2/ingest") in routes
    statuses = set()
    for method, path in routes:
        response = client.open(path, method=method)
        statuses.add(response.status_code)
        assert_security_headers(response, f"anonymous {method} {path} ({response.status_code})", path)
    make_user("root", "admin")
    login(client, "root")
    for method, path in routes:
        if method == "GET":
            response = client.get(path)
            statuses.add(response.status_code)
            assert_security_headers(response, f"admin GET {path} ({response.status_code})", path)
    assert {200, 302, 400, 401, 404} <= statuses


@pytest.mark.parametrize("method,path", [("GET", "/no/such/page"), ("GET", "/api/v2/no-such"), ("PUT", "/login"),
                                         ("GET", "/static/mutt.js"), ("GET", "/ingest")])
def test_errors_and_static_files_carry_them_too(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code in (200, 404, 405)
    assert_security_headers(response, f"{method} {path}")


def test_the_script_is_served_as_javascript(client):
    response = client.get("/static/mutt.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert b"data-confirm" in response.data


def test_a_view_may_set_its_own_value(app):
    from flask import Response

    app.add_url_rule("/framed-on-purpose", "framed", lambda: Response("x", headers={"X-Frame-Options": "SAMEORIGIN"}))
    response = app.test_client().get("/framed-on-purpose")
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["Content-Security-Policy"] == headers.CONTENT_SECURITY_POLICY


# --- templates: nothing the policy would block, no data inside script ---------------------

def templates() -> list[Path]:
    found = sorted(TEMPLATES.rglob("*.html"))
    assert len(found) > 10
    return found


INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


@pytest.mark.parametrize("template", templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_inline_script(template):
    html = template.read_text()
    assert not INLINE_HANDLER.search(html), "inline on*= event handler"
    assert "javascript:" not in html.lower()
    assert html.lower().count("<script") == len(SCRIPT.findall(html)), "unclosed <script>"
    for attributes, body in SCRIPT.findall(html):
        assert "src=" in attributes and not body.strip(), f"inline script body: {body[:80]!r}"
    assert "style=" not in html.lower(), "inline style (the policy allows only the stylesheet)"


def test_the_patterns_catch_what_they_look_for():
    assert INLINE_HANDLER.search('<form class="inline" onsubmit="return confirm(\'x\')">')
    assert INLINE_HANDLER.search("<button\n  ONCLICK='go()'>")
    assert not INLINE_HANDLER.search('<form data-confirm="Revoke key online?">')
    assert SCRIPT.findall("<script>alert(1)</script>") == [("", "alert(1)")]


EVIL_NAME = "'+alert(document.domain)+'"


def test_a_key_name_is_data_not_script_on_the_keys_page(client):
    from mutt_app.access import api_keys
    from mutt_app.storage.db import session_scope

    make_user("root", "admin")
    login(client, "root")
    with session_scope() as session:
        api_keys.create(session, EVIL_NAME, ["ingest"], actor="test")
    html = client.get("/api-keys").get_data(as_text=True)
    assert 'data-confirm="Revoke key &#39;+alert(document.domain)+&#39;?"' in html
    assert "onsubmit" not in html and "<td>&#39;+alert(document.domain)+&#39;</td>" in html
