"""mutt.forward_alerts / mutt.forward_alert: alerts to Moogsoft (issue: Moog forwarding)."""

from mutt_app.celery_app import app  # noqa: F401
