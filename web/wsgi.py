"""WSGI entry point: `mutt web` serves 'web.wsgi:app' under granian."""

from mutt_app import dynconfig
from mutt_app.core import logs
from web import create_app

logs.configure(runtime_level=dynconfig.log_level)
app = create_app()
