"""mutt.forward_alerts / mutt.forward_alert: alerts to Moogsoft (issue: Moog forwarding)."""

from celeryconfig import MOOG_QUEUE
from mutt_app.celery_app import app


def enqueue_alerts(alert_ids: list[str]) -> None:
    """Ask the forwarder to deliver these (pending) alerts."""
    if alert_ids:
        app.send_task("mutt.forward_alerts", args=[list(alert_ids)], queue=MOOG_QUEUE)
