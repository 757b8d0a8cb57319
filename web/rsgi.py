"""RSGI entry point: `mutt web` serves 'web.rsgi:app' under granian (web/front.py, ADR 0011)."""

from mutt_app import config
from web.front import Front
from web.wsgi import app as wsgi_app

app = Front(wsgi_app, threads=int(config.number("WEB_THREADS")), body_timeout=config.number("WEB_BODY_TIMEOUT", float),
            per_client=int(config.number("WEB_MAX_REQUESTS_PER_CLIENT")), max_body=config.get().max_content_length)
