"""The event-audit page: each event's outcome (delivered, retrying, dead letter, silenced,
duplicate, not forwarded) in place of the old "Forwarded" column, with links to what it names."""

from __future__ import annotations

from mutt_app.dead_letters import dlq
from mutt_app.storage.db import session_scope
from tests.support.alert_states import NOW, add_alert
from tests.support.alert_states import audit_event as audit
from tests.support.alerts import insert_alerts
from tests.support.web import login, make_user


def test_the_events_page_shows_what_became_of_each_event_with_links(client):
    make_user("vic", "viewer")
    login(client, "vic")
    alert = add_alert("router1")
    delivered, dead = audit(alert_id=alert), audit(alert_id=alert)
    insert_alerts(1, id=delivered, state="delivered", attempts=1, last_status=202, delivered_at=NOW)
    insert_alerts(1, id=dead, state="dead", attempts=8, last_status=503)
    with session_scope() as session:
        dlq.record(session, dlq.ALERT, dead, dlq.RETRIES_EXHAUSTED, last_status=503, attempts=8)
    with session_scope() as session:
        letter_id = dlq.list_dead_letters(session).items[0].id
    audit("silenced", forwarded=False, silence_id=4)
    audit("duplicate", forwarded=False, alert_id=alert)
    audit("Ignore", forwarded=False)

    html = client.get("/events").get_data(as_text=True)

    assert "<th>Outcome</th>" in html and "<th>Forwarded</th>" not in html
    assert "delivered 2026-12-01 12:00:00 UTC, HTTP 202" in html
    assert (f'<a href="/dead-letters/{letter_id}">dead letter {letter_id} (retries_exhausted, HTTP 503)</a>'
            in html)  # not "Forwarded: yes"
    assert '<a href="/silences?state=all#silence-4">silenced by silence 4</a>' in html
    assert f'<a href="/alerts/{alert}">duplicate of alert {alert}</a>' in html
    assert 'data-outcome="not_forwarded">not forwarded (Ignore)' in html
    assert html.count(f'<a href="/alerts/{alert}">alert {alert}</a>') == 2  # the delivered and the dead one's alert


def test_an_alerts_page_shows_its_events_outcomes_not_forwarded_yes(client):
    make_user("vic", "viewer")
    login(client, "vic")
    alert = add_alert("router1")
    dead = audit(alert_id=alert)
    insert_alerts(1, id=dead, state="dead", attempts=8, last_status=503)
    html = client.get(f"/alerts/{alert}").get_data(as_text=True)
    assert "<th>Outcome</th>" in html and "<th>Forwarded</th>" not in html
    assert "not delivered, HTTP 503; its dead letter was purged" in html
    assert f'<a href="/alerts/{alert}">alert {alert}</a>' not in html  # not a link to the page it is on
