"""/api/docs: the OpenAPI viewer from local files, and the favicon."""

from __future__ import annotations

import re

import pytest

from tests.support.web import login, make_user


def test_the_viewer_page_loads_swagger_ui_from_this_site_only(client):
    page = client.get("/api/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-url="/api/v2/openapi.json"' in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(url[0] in "/#" and not url.startswith("//") for url in sources)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "img-src 'self' data:" in policy and "unsafe" not in policy


@pytest.mark.parametrize("name, kind", [("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")])
def test_the_viewer_assets_are_served_from_the_installed_wheel(client, name, kind):
    asset = client.get(f"/api/docs/assets/{name}")
    assert asset.status_code == 200 and kind in asset.content_type and len(asset.data) > 10_000


@pytest.mark.parametrize("name", ["index.html", "../__init__.py", "swagger-ui.js.map"])
def test_only_the_two_viewer_assets_are_served(client, name):
    assert client.get(f"/api/docs/assets/{name}").status_code == 404


def test_the_favicon_is_served_and_pages_name_it(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.content_type.startswith("image/svg+xml") and b"<svg" in icon.data
    assert 'rel="icon"' in client.get("/login").get_data(as_text=True)


def test_the_console_links_the_api_docs_and_marks_the_current_page(client):
    make_user("vera", "viewer")
    login(client, "vera")
    html = client.get("/rules").get_data(as_text=True)
    assert '<a href="/api/docs">API docs</a>' in html
    assert '<a href="/rules" aria-current="page">Rules</a>' in html and html.count('aria-current="page"') == 1
    assert '<a class="skip" href="#main">Skip to content</a>' in html and '<main id="main"' in html
