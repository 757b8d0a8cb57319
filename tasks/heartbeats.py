"""mutt.check_heartbeats: raise an alert for each watched source that fell quiet, clear those heard
from again (domain: mutt_app/operations/heartbeats.py). Beat sends it every few seconds."""

from __future__ import annotations

from mutt_app import dynconfig, handoff
from mutt_app.celery_app import app
from mutt_app.operations import heartbeats, jobs
from mutt_app.storage import redis_client
from mutt_app.storage.db import session_scope
from mutt_app.suppression import silence_store


@app.task(name="mutt.check_heartbeats", ignore_result=True)
def check_heartbeats() -> dict | None:
    client = redis_client.get()
    with jobs.exclusive(client, jobs.HEARTBEATS, timeout=60) as held:
        if held is None:
            return None
        with session_scope() as session:
            report = heartbeats.check(session, client, team=dynconfig.get("unhandled_default_team"),
                                      alert_lease_seconds=dynconfig.get("janitor_stuck_after_seconds"),
                                      silenced=heartbeats.silenced_by(silence_store.load(session)))
        jobs.mark_ran(client, jobs.HEARTBEATS)
        handoff.forward_alerts(report.alert_ids)
        return {"raised": len(report.raised), "cleared": len(report.cleared), "silenced": len(report.silenced),
                "rebaselined": report.rebaselined}
