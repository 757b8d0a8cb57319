"""The Alerts page, an alert's page and the dashboard's tile, as a logged-in viewer sees them."""

from __future__ import annotations

import re

from tests.support.alert_states import add_alert, audit_events
from tests.support.alerts import insert_alerts
from tests.support.web import login, make_user


def rows(html: str) -> list[str]:
    """The alerts table's rows (after the heading), as their text."""
    table = html.split('id="alerts"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in cells]


def hosts(html: str) -> list[str]:
    return re.findall(r'<td class="host">([^<]*)</td>', html)


def test_open_alerts_first_with_count_times_and_a_flapping_badge(viewer):
    add_alert("cleared-host", state="cleared", seen_minutes_ago=1)
    add_alert("flappy-host", seen_minutes_ago=10, flapping=True, occurrences=42)
    add_alert("steady-host", seen_minutes_ago=5)
    html = viewer.get("/alerts").get_data(as_text=True)
    shown = rows(html)
    assert hosts(html) == ["steady-host", "flappy-host", "cleared-host"]
    assert "open flapping 4 Major flappy-host 7 Link down 42 2026-12-01 10:50:00 2026-12-01 11:50:00" in shown[1]
    assert "flapping" not in shown[0] and "flapping" not in shown[2]
    assert "3 of 3 alerts" in html and 'id="next-page"' not in html and "first page" not in html  # one page: no pager links


def test_filters_and_the_next_page(viewer):
    for n in range(3):
        add_alert(f"edge-{n}", seen_minutes_ago=n)
    add_alert("core-1")
    page = viewer.get("/alerts?host=EDGE-*&limit=2").get_data(as_text=True)
    assert hosts(page) == ["edge-0", "edge-1"]
    next_url = re.search(r'href="(/alerts\?[^"]+)" id="next-page"', page)[1].replace("&amp;", "&")
    assert "host=EDGE-%2A" in next_url
    rest = viewer.get(next_url).get_data(as_text=True)
    assert hosts(rest) == ["edge-2"] and "first page" in rest


def test_a_bad_filter_is_shown_not_a_500(viewer):
    response = viewer.get("/alerts?state=closed")
    assert response.status_code == 200
    assert "state must be one of open, cleared, flapping" in response.get_data(as_text=True)


def test_an_alert_page_shows_its_events_and_deliveries(viewer):
    alert_id = add_alert("router1", key="Gi0/1", flapping=True)
    audit_events(alert_id, 2)
    insert_alerts(1, signature="mutt:rule:7:router1:Gi0/1", state="delivered", attempts=1, last_status=202, severity=0)
    html = viewer.get("/alerts").get_data(as_text=True)
    assert f'href="/alerts/{alert_id}"' in html
    page = viewer.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert "Events (newest 2 of 2)" in page and "link down #1" in page and 'href="/events?correlation_id=corr-1"' in page
    assert "Deliveries to Moogsoft (newest 1 of 1)" in page and '<span class="sev sev-0">0 Clear</span>' in page
    assert '<span class="badge">flapping</span>' in page
    missing = viewer.get("/alerts/999")
    assert missing.status_code == 404 and "no alert with id 999" in missing.get_data(as_text=True)


def test_the_dashboard_counts_open_and_flapping_alerts_and_links_to_them(viewer):
    add_alert("a")
    add_alert("b", flapping=True)
    add_alert("c", state="cleared", flapping=True)
    html = viewer.get("/").get_data(as_text=True)
    assert '<a href="/alerts?state=open" id="open-alerts">2</a>' in html
    assert '<a href="/alerts?state=flapping" id="flapping-alerts">2 flapping</a>' in html
    assert '<a href="/alerts">Alerts</a>' in html  # in the navigation


def test_an_operator_can_silence_an_alerts_host_from_the_list_and_the_alert(client):
    make_user("otto", "operator")
    login(client, "otto")
    alert_id = add_alert("core-rtr-01")
    link = 'href="/silences?host=core-rtr-01#new-silence">silence this host</a>'
    assert link in client.get("/alerts").get_data(as_text=True)
    assert link in client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    form = client.get("/silences?host=core-rtr-01").get_data(as_text=True)
    assert 'value="core-rtr-01"' in form


def test_a_viewer_is_not_offered_a_silence(viewer):
    alert_id = add_alert("core-rtr-01")
    assert "silence this host" not in viewer.get(f"/alerts/{alert_id}").get_data(as_text=True)
