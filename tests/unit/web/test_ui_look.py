"""The look the pages share: empty lists that say what to do next, severities in colour and in
words, tables marked for sorting."""

from __future__ import annotations

import re

import pytest

from mutt_app.rules import rule_store
from mutt_app.storage.db import session_scope
from tests.support.alert_states import add_alert
from tests.support.web import login, make_user

EMPTY = {  # an empty list: what it means, and where to go from there (a link or a command)
    "/rules": ("No rules yet: every event counts as unhandled.", 'href="/rules/new"'),
    "/alerts": ("No alerts yet.", 'href="/events?decision=unhandled"'),
    "/alerts?state=open": ("No alerts match.", 'href="/alerts"'),
    "/events": ("No events match.", "<code>mutt send</code>"),
    "/events?host=nowhere": ("No events match.", 'href="/events"'),
    "/dead-letters": ("No dead letters: every event and alert was processed.", "Nothing to do."),
    "/dead-letters?kind=alert": ("No dead letters match the filter.", 'href="/dead-letters"'),
    "/config-audit?operation=DELETE": ("No changes match.", 'href="/config-audit"'),
    "/silences": ("None active: every event that matches a rule pages.", 'href="#new-silence"'),
    "/heartbeats": ("No source is watched", "<code>mutt heartbeat add</code>"),
    "/dev-hosts": ("No development hosts", "Add a host above"),
    "/teams": ("No host has a team of its own", "Assign one above"),
}


@pytest.fixture
def operator(client):
    make_user("opal", "operator")
    login(client, "opal")
    return client


@pytest.mark.parametrize("path", list(EMPTY))
def test_an_empty_list_says_what_it_means_and_what_to_do_next(operator, path):
    html = operator.get(path).get_data(as_text=True)
    row = re.search(r'<tr class="empty"><td colspan="\d+">(.*?)</td></tr>', html, re.S)
    headline, next_step = EMPTY[path]
    assert row and headline in row.group(1) and next_step in row.group(1), row.group(1) if row else html[-2000:]


def test_a_viewer_is_not_told_to_do_what_only_an_operator_can(viewer):
    html = viewer.get("/rules").get_data(as_text=True)
    assert "An operator adds them here" in html and 'href="/rules/new"' not in html


def test_severities_are_coloured_and_named_on_the_alerts_and_rules(operator):
    add_alert("edge-1", severity=5)
    add_alert("edge-2", severity=2)
    alerts = operator.get("/alerts").get_data(as_text=True)
    assert '<span class="sev sev-5">5 Critical</span>' in alerts and '<span class="sev sev-2">2 Warning</span>' in alerts
    with session_scope() as session:
        rule_store.create_rule(session, {"name": "BGP down", "match_string": "BGP", "match_type": "contains", "priority": 10,
                                    "prod_handling": "Page_and_ticket", "dev_handling": "Ignore", "team_assignment": "NETO",
                                    "moog_severity": 4}, actor="test")
    assert '<span class="sev sev-4">4 Major</span>' in operator.get("/rules").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/alerts", "/events", "/dead-letters", "/rules", "/config-audit", "/silences",
                                  "/heartbeats", "/dev-hosts", "/teams"])
def test_every_list_is_marked_for_sorting(operator, path):
    assert '<table class="rows" data-sortable' in operator.get(path).get_data(as_text=True)
