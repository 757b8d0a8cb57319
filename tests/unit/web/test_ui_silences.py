"""The Silences page: list by state, create, extend, expire; "silence this host" from the event
audit; the dashboard's count of active silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mutt_app.storage.db import session_scope
from mutt_app.storage.models import EventAudit
from mutt_app.suppression import silence_store
from tests.support.web import login, make_user, page_token


@pytest.fixture
def operator(client):
    make_user("oscar", "operator")
    login(client, "oscar")
    return client


def post(client, url: str, data: dict):
    return client.post(url, data={**data, "csrf_token": page_token(client, "/silences")})


def stored():
    with session_scope() as session:
        return [silence_store.to_dict(row) for row in silence_store.list_silences(session)]


def test_create_extend_and_expire_from_the_page(operator):
    created = post(operator, "/silences", {"hostname": "core-rtr-01", "field": "message", "op": "contains",
                                           "value": "LINK", "duration": "2h", "comment": "line card swap"})
    assert created.status_code == 302
    [silence] = stored()
    assert silence["state"] == "active" and silence["created_by"] == "user:oscar"
    assert [m["field"] for m in silence["matchers"]] == ["hostname", "message"]
    html = operator.get("/silences").get_data(as_text=True)
    assert f'id="silence-{silence["id"]}"' in html and "line card swap" in html
    assert 'id="active-silences">1<' in operator.get("/").get_data(as_text=True)

    ends = datetime.fromisoformat(silence["ends_at"])
    assert post(operator, f"/silences/{silence['id']}/extend", {"duration": "1h"}).status_code == 302
    assert datetime.fromisoformat(stored()[0]["ends_at"]) == ends + timedelta(hours=1)

    assert post(operator, f"/silences/{silence['id']}/expire", {}).status_code == 302
    assert stored()[0]["state"] == "expired"
    assert "None active" in operator.get("/silences").get_data(as_text=True)
    assert f'id="silence-{silence["id"]}"' in operator.get("/silences?state=expired").get_data(as_text=True)


def test_a_refused_silence_is_explained_and_nothing_is_stored(operator):
    post(operator, "/silences", {"hostname": "", "value": "", "duration": "2h", "comment": "everything"})
    assert "matchers is required" in operator.get("/silences").get_data(as_text=True)
    post(operator, "/silences", {"hostname": "r1", "duration": "soon", "comment": "x"})
    assert "duration: a duration such as" in operator.get("/silences").get_data(as_text=True)
    assert stored() == []
    assert operator.get("/silences?state=sleeping").status_code == 400


def test_silence_this_host_from_an_event_audit_row(operator):
    now = datetime.now(UTC)
    with session_scope() as session:
        session.add(EventAudit(event_id="e1", received_at=now, hostname="edge-fw-02", rule_id=None, rule_name="",
                               environment="prod", decision="silenced", forwarded=False, team="", correlation_id="c1",
                               event={"message": "x"}, silence_id=7))
    html = operator.get("/events").get_data(as_text=True)
    assert "/silences?host=edge-fw-02#new-silence" in html and "silence 7" in html
    assert 'name="hostname" value="edge-fw-02"' in operator.get("/silences?host=edge-fw-02").get_data(as_text=True)
