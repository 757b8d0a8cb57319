"""mutt.remediate: replay dead letters whose cause has cleared (issue: Moog forwarding)."""

from mutt_app.celery_app import app  # noqa: F401
