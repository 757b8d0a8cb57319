"""The API's reference for people, and the favicon.

``/api/docs`` shows the OpenAPI document (``/api/v2/openapi.json``) with Swagger UI, served from
the installed ``swagger-ui-bundle-v2`` wheel: MUTT runs offline, so no CDN. The page is public,
like the document; "Try it out" sends GETs only (a write needs a CSRF token Swagger UI has not).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, make_response, render_template, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

from web.headers import CONTENT_SECURITY_POLICY

bp = Blueprint("api_docs", __name__)

ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css")
STATIC = Path(__file__).parent / "static"
# Swagger UI's stylesheet draws its icons as data: images; this page alone allows them.
VIEWER_CSP = CONTENT_SECURITY_POLICY.replace("img-src 'self'", "img-src 'self' data:")


@bp.get("/api/docs")
def viewer():
    response = make_response(render_template("api_docs.html", document_url=url_for("api.openapi")))
    response.headers["Content-Security-Policy"] = VIEWER_CSP
    return response


@bp.get("/api/docs/assets/<name>")
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=24 * 3600)


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico whatever the page names (JSON answers, error pages).
    return send_from_directory(STATIC, "favicon.svg", mimetype="image/svg+xml", max_age=24 * 3600)
