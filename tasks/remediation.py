"""mutt.remediate: replay dead letters whose cause has cleared (domain: mutt_app/remediation.py).

Beat sends this every 5 s; it returns at once until ``remediation_interval`` has passed since the
last run, so the interval is a runtime setting rather than a beat schedule.
"""

from __future__ import annotations

from mutt_app import dlq, dynconfig, jobs, redis_client, remediation
from mutt_app.batches import EventBatches
from mutt_app.breaker import CircuitBreaker
from mutt_app.celery_app import app
from mutt_app.db import session_scope
from mutt_app.ingest import Ingest


def flush_buffer() -> int:
    """Cut whatever waits in the ingest buffer into batches and enqueue them."""
    from tasks.alerter import enqueue_batch

    return Ingest(redis_client.get(), enqueue_batch).flush()


def pipeline() -> dlq.Pipeline:
    """Where replayed dead letters go (also used by the API and the CLI)."""
    from tasks.forwarder import enqueue_alerts

    return dlq.Pipeline(EventBatches(redis_client.get()), flush_buffer, enqueue_alerts)


def breaker_state() -> str:
    return CircuitBreaker(redis_client.get()).state()


@app.task(name="mutt.remediate", ignore_result=True)
def remediate() -> dict | None:
    client = redis_client.get()
    if not jobs.due(client, jobs.REMEDIATION, dynconfig.get("remediation_interval")):
        return None
    with jobs.exclusive(client, jobs.REMEDIATION, timeout=120) as held:
        if held is None or not jobs.due(client, jobs.REMEDIATION, dynconfig.get("remediation_interval")):
            return None
        jobs.mark_ran(client, jobs.REMEDIATION)  # first: a run that fails is not retried every 5 s
        with session_scope() as session:
            report = remediation.run(session, pipeline(), breaker_state=breaker_state())
        return {"replayed": len(report.replayed), "skipped": len(report.skipped), "poisoned": report.poisoned}
