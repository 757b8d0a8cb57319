"""WSGI entry point: `mutt web` serves 'web.wsgi:app' under granian."""

from mutt_app.core import logs
from web import create_app

logs.configure()
app = create_app()
