"""Helpers for dead-letter, remediation and janitor tests: rows to recover, the broker's queues."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mutt_app.dead_letters import dlq
from mutt_app.storage.models import Alert, DeadLetter


def make_alert(session, state: str = "pending", lease_in: float = 60, attempts: int = 0, alert_id: str | None = None) -> Alert:
    """An alert row as the alerter writes it (lease ``lease_in`` seconds from now; negative = expired)."""
    alert_id = alert_id or uuid.uuid4().hex
    alert = Alert(
        id=alert_id, state=state, hostname="router1", team="NETO", severity=4, decision="forward",
        environment="prod", signature=f"sig-{alert_id}", description="link down", correlation_id="c1",
        event={"_id": alert_id, "hostname": "router1", "message": "link down"}, attempts=attempts,
        lease_until=datetime.now(UTC) + timedelta(seconds=lease_in),
    )
    session.add(alert)
    session.flush()
    return alert


def queued(redis_client, queue: str) -> list[tuple[str, list]]:
    """(task name, args) of every message waiting in a Celery queue on the Redis broker."""
    found = []
    for raw in reversed(redis_client.lrange(queue, 0, -1)):  # kombu LPUSHes: oldest last
        message = json.loads(raw)
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        found.append((message["headers"]["task"], args))
    return found


def queued_alert_ids(redis_client) -> list[str]:
    return [alert_id for _, args in queued(redis_client, "moog") for alert_id in args[0]]


def queued_batch_ids(redis_client) -> list[str]:
    return [args[0] for _, args in queued(redis_client, "alerts")]


def event_letter(session, event_id="ev1", reason=dlq.PROCESSING_FAILED, **event) -> DeadLetter:
    """A dead letter for an event MUTT had accepted (its payload: the canonical event)."""
    payload = {"_id": event_id, "hostname": "h1", "message": "boom", "_source": "ingest", **event}
    dlq.record(session, dlq.EVENT, event_id, reason, error="KeyError", payload=payload, attempts=1)
    session.flush()
    return session.scalar(select(DeadLetter).where(DeadLetter.ref_id == event_id))


def alert_letter(session, reason=dlq.RETRIES_EXHAUSTED) -> tuple[Alert, DeadLetter]:
    """A dead alert and its dead letter, as the forwarder leaves them after its retries."""
    alert = make_alert(session, state="dead", attempts=13)
    dlq.record(session, dlq.ALERT, alert.id, reason, error="503", payload={"alert_id": alert.id}, attempts=13, last_status=503)
    session.flush()
    return alert, session.scalar(select(DeadLetter).where(DeadLetter.ref_id == alert.id))
