"""mutt.remediate: replay dead letters whose cause has cleared (domain: mutt_app/remediation/automatic.py).

Beat sends this every 5 s; it returns at once until ``remediation_interval`` has passed since the
last run, so the interval is a runtime setting rather than a beat schedule.
"""

from __future__ import annotations

from mutt_app import dynconfig, handoff
from mutt_app.celery_app import app
from mutt_app.forwarding.breaker import CircuitBreaker
from mutt_app.operations import jobs
from mutt_app.remediation import automatic
from mutt_app.storage import redis_client
from mutt_app.storage.db import session_scope


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
            report = automatic.run(session, handoff.replay_pipeline(), breaker_state=breaker_state())
        return {"replayed": len(report.replayed), "skipped": len(report.skipped), "poisoned": report.poisoned}
