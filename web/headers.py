"""Security headers on every answer of the web process: pages, the REST API, health, static
files and ingest (which a WSGI handler answers before Flask, so this is WSGI middleware too).

- ``Content-Security-Policy``: scripts, styles and images only from this site; no inline script,
  no inline event handler (``onclick=``...), no ``eval``; forms post only here; no framing.
  Templates therefore carry data in ``data-*`` attributes that ``static/mutt.js`` reads.
- ``X-Frame-Options: DENY`` (browsers before ``frame-ancestors``): no clickjacking.
- ``X-Content-Type-Options: nosniff``: a JSON or text answer is never run as script or page.
- ``Referrer-Policy: same-origin``: links out (Flower, documentation) carry no MUTT URL.

A view that sets one of these headers itself keeps its own value.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
))

HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)
_NAMES = {name.lower() for name, _ in HEADERS}


class SecurityHeaders:
    """WSGI middleware adding ``HEADERS`` to every answer of ``app``."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers} & _NAMES
            headers = list(headers) + [header for header in HEADERS if header[0].lower() not in present]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def init_app(app) -> None:
    """Wrap the app outermost, after ingest's handler, so ingest's answers carry the headers too."""
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
