"""A silence on real processes (granian web, a prefork Celery worker, PostgreSQL, Redis, the
Moogsoft stand-in): created over the API it stops a page within a second; expired (DELETE), the
next event pages again and nothing muted is replayed."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from mutt_app.access import api_keys
from mutt_app.rules import seed
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import EventAudit
from tests.support.fixtures import stack_of
from tests.support.processes import wait_until

HOST = "core-rtr-01.dc1.example.com"


def keys(_redis) -> dict:
    with session_scope() as session:
        seed.load_if_empty(session)
        _, ingest_key = api_keys.create(session, "silence ingest", ["ingest"], actor="test")
        _, operator_key = api_keys.create(session, "change robot", ["operator", "read"], actor="test")
    return {"ingest": {"X-API-KEY": ingest_key}, "operator": {"X-API-KEY": operator_key}}


pytestmark = [pytest.mark.integration, stack_of("silences", web_workers=1, prepare=keys)]


def send(stack, marker: str, port: str = "Gi0/1") -> None:
    event = {"hostname": HOST, "message": f"LINK-DOWN {port} {marker}", "timestamp": datetime.now(UTC).isoformat()}
    answer = requests.post(stack.url + "/api/v2/ingest", json=event, headers=stack.prepared["ingest"], timeout=10)
    assert answer.status_code == 200, answer.text


def paged(stack, marker: str) -> bool:
    return any(marker in str(body) for body in stack.standin.delivered())


def audited(marker: str) -> EventAudit | None:
    with session_scope() as session:
        for row in session.scalars(select(EventAudit).where(EventAudit.hostname == HOST)):
            if marker in str(row.event.get("message")):
                session.expunge(row)
                return row
    return None


def test_a_silence_stops_a_page_within_a_second_and_expiring_it_restores_paging(stack):
    before = uuid.uuid4().hex
    send(stack, before)
    wait_until(lambda: paged(stack, before), timeout=60, message="a page before any silence")

    created = requests.post(stack.url + "/api/v2/silences", headers=stack.prepared["operator"], timeout=10, json={
        "matchers": [{"field": "hostname", "op": "=", "value": HOST}], "comment": "line card swap",
        "ends_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()})
    assert created.status_code == 201, created.text
    silence_id = created.json()["id"]
    time.sleep(1.0)
    during = uuid.uuid4().hex
    send(stack, during)
    row = wait_until(lambda: audited(during), timeout=30, message="the silenced event audited")
    assert (row.decision, row.forwarded, row.silence_id) == ("silenced", False, silence_id)

    expired = requests.delete(f"{stack.url}/api/v2/silences/{silence_id}", headers=stack.prepared["operator"],
                              json={"reason": "swap done"}, timeout=10)
    assert expired.status_code == 200 and expired.json()["silence"]["state"] == "expired"
    time.sleep(1.0)
    after = uuid.uuid4().hex
    send(stack, after, port="Te1/1")   # another port: Gi0/1 again would be a duplicate of its alert, still open
    wait_until(lambda: paged(stack, after), timeout=30, message="a page once the silence expired")
    assert not paged(stack, during), "an event muted by the silence is never replayed"
    assert audited(after).silence_id is None
