"""Who is paged: events through a real worker process (alerter and forwarder) to the Moogsoft
stand-in, whose `class` field is the team Moogsoft routes the alert to. A host with a device
team pages that team; any other host pages the matching rule's team. The Teams page promises
this, and the event audit records the same team."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from mutt_app.handoff import process_batch
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.rules import host_store, rule_store
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import EventAudit
from tests.support.processes import mutt_env, start_worker, wait_until

pytestmark = pytest.mark.integration

OWNED, UNOWNED = "pdu-07.dc2.example.com", "pdu-08.dc2.example.com"


def event(hostname: str) -> dict:
    now = datetime.now(UTC).isoformat()
    return {"_id": uuid.uuid4().hex, "_correlation_id": uuid.uuid4().hex, "_received_at": now, "_source": "test",
            "_key": "test", "timestamp": now, "hostname": hostname, "message": "%PDU-2-OUTLET: outlet 4 overload"}


def test_moogsoft_receives_the_device_team_else_the_rules_team(redis, pg_url, standin, tmp_path):
    from tests.conftest import REDIS_URL

    with session_scope() as session:
        rule_store.create_rule(session, {"name": "PDU overload", "match_type": "contains", "match_string": "PDU-2-OUTLET",
                                       "prod_handling": "Page_only", "dev_handling": "Ignore",
                                       "team_assignment": "Facilities", "moog_severity": 4}, actor="test")
        host_store.set_team(session, OWNED, "DC2-Operations", actor="test")
    worker = start_worker(mutt_env(REDIS_URL, pg_url, tmp_path / "home", MOOG_WEBHOOK_URL=standin.url), tmp_path,
                          queues="alerts,moog", concurrency=1)
    try:
        sent = [event(OWNED), event(UNOWNED)]
        buffer = EventBuffer(redis)
        buffer.accept([json.dumps(e) for e in sent], key_id="test", rate_limit=0, rate_window=60, max_backlog=1000)
        batch_id, _ = buffer.cut(10, 300)
        process_batch(batch_id)
        delivered = wait_until(lambda: len(standin.delivered()) == 2 and standin.delivered(), timeout=60,
                               message="both alerts at the Moogsoft stand-in")
    finally:
        worker.stop()
    paged = {alert["source_id"]: alert["class"] for alert in delivered}
    assert paged == {OWNED: "DC2-Operations", UNOWNED: "Facilities"}
    with session_scope() as session:
        audited = dict(session.execute(select(EventAudit.hostname, EventAudit.team)).all())
    assert audited == paged
