"""End to end, with real processes: granian web, a Celery worker and beat, PostgreSQL, Redis, and
the Moogsoft stand-in. v2.5's sample data goes in; the test counts that nothing is lost.

Every event posted ends audited, counted as unhandled, or dead-lettered; every alert the alerter
raised reaches the stand-in (matched by external_id) or is a dead letter.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from mutt_app.access import api_keys, users
from mutt_app.rules import seed
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert, DeadLetter, EventAudit
from tests.support.fixtures import stack_of
from tests.support.processes import wait_until

DATA = Path(__file__).resolve().parents[1] / "data"  # v2.5's published samples, as published
SAMPLES = ("test_data_syslog_events.json", "demo_syslog_events.json", "demo_snmp_traps.json")
ADMIN_PASSWORD = "pipeline-" + uuid.uuid4().hex


def sample(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text(encoding="utf-8-sig"))


def accounts(_redis) -> dict:
    """The seed rules, an ingest and an admin key, and the UI's admin."""
    with session_scope() as session:
        seed.load_if_empty(session)
        _, ingest_key = api_keys.create(session, "pipeline ingest", ["ingest"], actor="test")
        _, admin_key = api_keys.create(session, "pipeline admin", ["admin"], actor="test")
        users.create(session, "admin", ADMIN_PASSWORD, "admin", actor="test")
    return {"ingest_key": ingest_key, "admin_key": admin_key}


# web (granian, 2 processes), one worker on every queue (prefork, 2), beat, stand-in
pytestmark = [pytest.mark.integration, stack_of("pipeline", beat=True, env={"JANITOR_INTERVAL": "2"}, prepare=accounts)]


def post_all(url: str, key: str, events: list[dict]) -> Counter:
    answers: Counter = Counter()
    with requests.Session() as http:
        http.headers["X-API-KEY"] = key
        for event in events:
            response = http.post(url + "/api/v2/ingest", json=event, timeout=10)
            answers[response.status_code] += 1
            assert response.status_code == 200, (event, response.status_code, response.text)
            assert response.json()["status"] == "queued"
    return answers


def outcomes(redis) -> dict[str, int]:
    stats = redis.hgetall(redis_keys.STATS)
    return {name: int(stats.get(name, 0)) for name in ("accepted", "audited", "unhandled", "dead_lettered")}


def settled(redis, expected: int):
    counts = outcomes(redis)
    finished = counts["audited"] + counts["unhandled"] + counts["dead_lettered"]
    return counts if finished >= expected else None


def alerts_by_state() -> dict[str, int]:
    with session_scope() as session:
        return dict(session.execute(select(Alert.state, func.count()).group_by(Alert.state)).all())


def test_sample_data_flows_ingest_to_moog_and_nothing_is_lost(stack):
    events = [event for name in SAMPLES for event in sample(name)]
    assert len(events) == 66 + 330 + 100

    started = time.monotonic()
    post_all(stack.url, stack.prepared["ingest_key"], events)
    counts = wait_until(lambda: settled(stack.redis, len(events)), timeout=120, message="every event processed")

    # every event posted ends in exactly one place
    assert counts["accepted"] == len(events)
    assert counts["audited"] + counts["unhandled"] + counts["dead_lettered"] == len(events)
    assert counts["audited"] > 0 and counts["unhandled"] > 0
    with session_scope() as session:
        audited_rows = session.scalar(select(func.count()).select_from(EventAudit).where(EventAudit.decision != "unhandled"))
        unhandled_rows = session.scalar(select(func.count()).select_from(EventAudit).where(EventAudit.decision == "unhandled"))
        forwarded_rows = session.scalar(select(func.count()).select_from(EventAudit).where(EventAudit.forwarded))
        event_dead_letters = session.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.kind == "event"))
    assert audited_rows == counts["audited"]
    assert unhandled_rows == counts["unhandled"]   # unhandled events are audited too, to be found (issue 20)
    assert event_dead_letters == counts["dead_lettered"]

    # every alert raised reaches the stand-in, exactly as many as the audit says were forwarded
    def all_delivered():
        states = alerts_by_state()
        return states if states and set(states) <= {"delivered", "dead"} else None

    states = wait_until(all_delivered, timeout=120, message="every alert delivered")
    assert states.get("dead", 0) == 0, states
    with session_scope() as session:
        rule_alerts = session.scalar(select(func.count()).select_from(Alert).where(Alert.kind == "rule"))
        alert_ids = set(session.scalars(select(Alert.id)))
    assert rule_alerts == forwarded_rows > 0
    delivered = stack.standin.delivered()
    external_ids = [body.get("external_id") for body in delivered]
    assert set(external_ids) == alert_ids
    elapsed = time.monotonic() - started
    print(f"\n{len(events)} events -> {counts} ; {len(alert_ids)} alerts, {len(delivered)} deliveries; {elapsed:.1f} s")


def test_demo_traps_are_accepted_in_their_demo_shape_and_named_after_their_device(stack):
    traps = sample("demo_snmp_traps.json")
    post_all(stack.url, stack.prepared["ingest_key"], traps)
    wait_until(lambda: settled(stack.redis, len(traps)), timeout=90, message="every trap processed")
    with session_scope() as session:
        audited = list(session.scalars(select(EventAudit)))
    for row in audited:
        assert row.event.get("trap_oid"), row.event
        assert row.hostname and row.hostname != "unknown"


def test_web_ui_smoke_path(stack):
    url = stack.url
    health = requests.get(url + "/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    with requests.Session() as browser:
        page = browser.get(url + "/login", timeout=5)
        assert page.status_code == 200
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or \
            re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page.text)
        assert token, "the login form carries a CSRF token"
        browser.post(url + "/login", data={"username": "admin", "password": "wrong", "csrf_token": token.group(1)},
                     timeout=5)
        assert "/login" in browser.get(url + "/", timeout=5).url, "a wrong password does not log in"
        page = browser.get(url + "/login", timeout=5)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or \
            re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page.text)
        logged_in = browser.post(url + "/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                                       "csrf_token": token.group(1)}, timeout=5)
        assert logged_in.status_code == 200
        assert "/login" not in logged_in.url
        dashboard = browser.get(url + "/", timeout=5)
        assert dashboard.status_code == 200 and "admin" in dashboard.text


def test_runtime_setting_changed_through_the_api_reaches_every_running_process(stack):
    """Hot reload: a lower unhandled threshold takes effect in the running worker, no restart."""
    url, redis = stack.url, stack.redis
    headers = {"X-API-KEY": stack.prepared["admin_key"]}
    worker_pids = [p.pid for p in stack.processes]
    event = {"hostname": "reload-probe-01", "timestamp": "2026-01-01T00:00:00Z", "message": "reload probe " + uuid.uuid4().hex}

    changed = requests.put(url + "/api/v2/config/unhandled_threshold", json={"value": 3, "reason": "hot reload test"},
                           headers=headers, timeout=5)
    assert changed.status_code == 200, changed.text
    assert requests.get(url + "/api/v2/config/unhandled_threshold", headers=headers, timeout=5).json()["value"] == 3
    time.sleep(1.5)  # every process checks the settings version at most every 0.5 s

    post_all(url, stack.prepared["ingest_key"], [event] * 3)
    wait_until(lambda: settled(redis, 3), timeout=60, message="three events processed")
    meta = wait_until(lambda: alerts_by_state() and _meta_alerts("reload-probe-01"), timeout=60,
                      message="a meta-alert at the new threshold of 3")
    assert len(meta) == 1
    assert [p.pid for p in stack.processes] == worker_pids and all(p.alive() for p in stack.processes)


def _meta_alerts(hostname: str) -> list[Alert]:
    with session_scope() as session:
        return list(session.scalars(select(Alert).where(Alert.kind == "meta", Alert.hostname == hostname)))


def test_smoke_and_operator_validation_pass_against_the_running_stack(stack, tmp_path):
    """`mutt smoke` and `mutt validate` (docs/operator-validation.md) against real processes."""
    from mutt_app.tools import checks
    target = checks.Stack(stack.url, ingest_key=stack.prepared["ingest_key"], admin_key=stack.prepared["admin_key"],
                          logs=tmp_path, moog_url=stack.standin.url, timeout=60)
    smoke = checks.run(target, checks.SMOKE)
    assert [(r.name, r.detail) for r in smoke if r.status != "passed"] == []
    validation = checks.run(target, checks.VALIDATE)
    assert [(r.name, r.detail) for r in validation if r.status != "passed"] == []
    # every setting the validation touched is back as it was
    listing = requests.get(stack.url + "/api/v2/config", headers={"X-API-KEY": stack.prepared["admin_key"]}, timeout=5).json()
    assert [item["key"] for item in listing["settings"] if item["overridden"]] == []
