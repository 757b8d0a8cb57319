"""mutt.janitor: re-enqueue stuck work, keep partitions ahead, apply retention (issue: Moog forwarding)."""

from mutt_app.celery_app import app  # noqa: F401
