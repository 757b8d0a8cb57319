"""WSGI entry point: gunicorn 'web.wsgi:app'."""

from mutt_app import logs
from web import create_app

logs.configure()
app = create_app()
