"""mutt.janitor: recover stuck work, keep partitions ahead, apply retention (domain: mutt_app/operations/janitor.py)."""

from __future__ import annotations

from celeryconfig import ALERTS_QUEUE, MOOG_QUEUE, QUEUES
from mutt_app import handoff
from mutt_app.celery_app import app
from mutt_app.operations import dashboard, jobs, status, timeline
from mutt_app.operations import janitor as domain
from mutt_app.storage import redis_client

LOCK_SECONDS = 30  # short: a janitor killed mid-run must not hold up the next for long


def queue_depth(name: str) -> int:
    """Messages waiting in a Celery queue (Redis or RabbitMQ broker)."""
    return status.queue_depths(app, [name])["waiting"][name] or 0


def queues() -> domain.Queues:
    from tasks.alerter import recover_batch

    return domain.Queues(recover_batch, handoff.flush_buffer, handoff.forward_alerts,
                         lambda: queue_depth(ALERTS_QUEUE), lambda: queue_depth(MOOG_QUEUE))


@app.task(name="mutt.janitor", ignore_result=True)
def janitor() -> dict | None:
    client = redis_client.get()
    with jobs.exclusive(client, jobs.JANITOR, timeout=LOCK_SECONDS) as held:
        if held is None:
            return None
        maintenance = jobs.due(client, jobs.JANITOR_MAINTENANCE, domain.MAINTENANCE_EVERY)
        if maintenance:
            jobs.mark_ran(client, jobs.JANITOR_MAINTENANCE)
        report = domain.run(client, queues(), maintenance=maintenance, keep_alive=held.keep_alive)
        jobs.mark_ran(client, jobs.JANITOR)
        # the dashboard's time series: a sample when one is due (docs/web-ui.md, "Live dashboard")
        status.guarded(timeline.record_if_due, client, lambda: dashboard.take_sample(app, client, QUEUES))
        return {"recovered": report.recovered(), "errors": report.errors}
