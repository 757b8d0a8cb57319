"""Handing work to the workers: the one place that sends MUTT's Celery tasks by name.

Tasks, web views and the CLI all enqueue through here, so that none of them imports another's
module (the import contracts in pyproject.toml forbid ``web`` -> ``tasks``), and a message looks
the same whoever sends it.
"""

from __future__ import annotations

from celeryconfig import ALERTS_QUEUE, JANITOR_QUEUE, MOOG_QUEUE
from mutt_app.celery_app import app
from mutt_app.ingest.accept import Ingest
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.remediation import replay
from mutt_app.storage import redis_client

PROCESS_EVENTS = "mutt.process_events"
FORWARD_ALERTS = "mutt.forward_alerts"
STORE_REJECTED = "mutt.store_rejected"


def process_batch(batch_id: str, countdown: float | None = None) -> None:
    """Ask the alerter to process this (leased) batch of events."""
    app.send_task(PROCESS_EVENTS, args=[batch_id], queue=ALERTS_QUEUE, countdown=countdown)


def forward_alerts(alert_ids: list[str]) -> None:
    """Ask the forwarder to deliver these (pending) alerts."""
    if alert_ids:
        app.send_task(FORWARD_ALERTS, args=[list(alert_ids)], queue=MOOG_QUEUE)


def store_rejected() -> None:
    """Ask a worker to turn what ingest rejected into dead letters (ingest itself touches no database)."""
    app.send_task(STORE_REJECTED, queue=JANITOR_QUEUE)


def ingest() -> Ingest:
    """An ingest pipeline whose batches and rejected items are handed to the workers (the web
    builds its own the same way; `mutt listen` uses this one)."""
    return Ingest(redis_client.get(), process_batch, store_rejected)


def flush_buffer() -> int:
    """Cut whatever waits in the ingest buffer into batches and enqueue them."""
    return Ingest(redis_client.get(), process_batch).flush()


def replay_pipeline() -> replay.Pipeline:
    """Where replayed dead letters go (remediation, the API, the UI and the CLI)."""
    return replay.Pipeline(EventBuffer(redis_client.get()), flush_buffer, forward_alerts)
