"""A quiet source alerts and then clears, on real processes: web, a worker on every queue, beat,
and the Moogsoft stand-in. The interval is the API's minimum, 10 s."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from mutt_app.access import api_keys
from mutt_app.storage.db import session_scope
from tests.support.fixtures import stack_of
from tests.support.processes import wait_until

SIGNATURE = "mutt:heartbeat:hb-router-1"


def keys(_redis) -> dict:
    with session_scope() as session:
        _, ingest = api_keys.create(session, "hb-sender", ["ingest"], actor="test")
        _, operator = api_keys.create(session, "hb-operator", ["operator", "read"], actor="test")
    return {"ingest": ingest, "operator": operator}


pytestmark = [pytest.mark.integration, stack_of("heartbeats", web_workers=1, beat=True, prepare=keys)]


def heartbeat_alerts(stack) -> list[dict]:
    bodies = [received.body for received in stack.standin.received]
    events = [event for body in bodies for event in body.get("events", [body])]
    return [event for event in events if event.get("signature") == SIGNATURE]


def send_event(stack) -> None:
    answer = requests.post(stack.url + "/api/v2/ingest", headers={"X-API-KEY": stack.prepared["ingest"]},
                           json={"hostname": "HB-Router-1", "message": "%SYS-5-CONFIG_I: configured",
                                 "timestamp": datetime.now(UTC).isoformat()}, timeout=10)
    assert answer.status_code == 200, answer.text


def test_a_quiet_source_alerts_once_and_its_next_event_clears_it(stack):
    operator = {"X-API-KEY": stack.prepared["operator"]}
    created = requests.post(stack.url + "/api/v2/heartbeats", headers=operator, timeout=10, json={
        "hostname": "hb-router-1", "interval_seconds": 10, "severity": 5, "comment": "integration test"})
    assert created.status_code == 201, created.text
    send_event(stack)
    heartbeat_url = f"{stack.url}/api/v2/heartbeats/{created.json()['heartbeat']['id']}"
    wait_until(lambda: requests.get(heartbeat_url, headers=operator, timeout=10).json()["heartbeat"]["last_seen"],
               timeout=30, interval=0.5, message="the event recorded as heard from")

    raised = wait_until(lambda: heartbeat_alerts(stack), timeout=40, message="a heartbeat alert at the stand-in")
    assert [(a["severity"], a["source_id"]) for a in raised] == [(5, "hb-router-1")]
    assert "quiet since" in raised[0]["description"]
    assert requests.get(heartbeat_url, headers=operator, timeout=10).json()["heartbeat"]["quiet"] is True

    send_event(stack)
    alerts = wait_until(lambda: (found := heartbeat_alerts(stack)) and len(found) >= 2 and found, timeout=40,
                        message="the clear at the stand-in")
    assert [a["severity"] for a in alerts] == [5, 0]  # one alert for the quiet spell, then its clear
    assert requests.get(heartbeat_url, headers=operator, timeout=10).json()["heartbeat"]["quiet"] is False
