"""GET /api/v2/audit-logs: each row keeps its fields and gains its ``outcome``; /api/v1 keeps v2.5's
row shape (tests/unit/web/api/test_v25_compat.py)."""

from __future__ import annotations

from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from tests.support.alert_states import add_alert
from tests.support.alert_states import audit_event as audit
from tests.support.alerts import insert_alerts


def test_each_row_has_its_outcome_beside_the_fields_it_had(api, reader):
    alert = add_alert("router1")
    dead = audit(alert_id=alert)
    insert_alerts(1, id=dead, state="dead", attempts=8, last_status=503)
    with session_scope() as session:
        dlq.record(session, dlq.ALERT, dead, dlq.RETRIES_EXHAUSTED, last_status=503, attempts=8)
    silenced = audit("silenced", forwarded=False, silence_id=4, minutes_ago=1)

    rows = {row["event_id"]: row for row in api.get("/api/v2/audit-logs", headers=reader).json["logs"]}

    assert rows[dead]["forwarded"] is True and rows[dead]["decision"] == "Page_only"  # kept, for compatibility
    outcome = rows[dead]["outcome"]
    assert (outcome["status"], outcome["alert_id"], outcome["delivery_id"], outcome["dead_letter_reason"]) == (
        "dead_letter", alert, dead, "retries_exhausted")
    assert api.get(f"/api/v2/dead-letters/{outcome['dead_letter_id']}", headers=reader).json["ref_id"] == dead
    assert (rows[silenced]["outcome"]["status"], rows[silenced]["outcome"]["silence_id"]) == ("silenced", 4)
    assert rows[dead]["alert_id"] == alert
    assert "outcome" not in api.get("/api/v1/audit-logs", headers=reader).json["logs"][0]  # v2.5's shape
