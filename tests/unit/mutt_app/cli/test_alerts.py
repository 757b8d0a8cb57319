import json

import pytest
from click.testing import CliRunner

from mutt_app.cli import cli
from tests.support.alert_states import add_alert, audit_events
from tests.support.alerts import insert_alerts


@pytest.fixture
def mutt(redis, sqlite_url):
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run


def test_list_filters_and_pages(mutt):
    add_alert("edge-1", seen_minutes_ago=1, flapping=True)
    add_alert("edge-2", seen_minutes_ago=2)
    add_alert("core-1", state="cleared")
    listed = mutt("alerts", "list", "--limit", "2")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert "edge-1" in lines[1] and "yes" in lines[1] and "edge-2" in lines[2]
    assert lines[-1].startswith("2 of 3 alerts; next page: --cursor ")
    rest = mutt("alerts", "list", "--limit", "2", "--cursor", lines[-1].split()[-1])
    assert "core-1" in rest.output and rest.output.splitlines()[-1] == "1 of 3 alerts"
    as_json = json.loads(mutt("alerts", "list", "--state", "flapping", "--json").output)
    assert [a["hostname"] for a in as_json["alerts"]] == ["edge-1"]
    assert "no alerts match" in mutt("alerts", "list", "--host", "nothing-*").output


def test_bad_values_are_one_line_errors(mutt):
    bad = mutt("alerts", "list", "--cursor", "nope")
    assert bad.exit_code == 1 and "Error: cursor must be a next_cursor" in bad.output
    assert mutt("alerts", "list", "--state", "closed").exit_code == 2  # click names the choices


def test_show_has_events_and_deliveries(mutt):
    alert_id = add_alert("router1", key="Gi0/1")
    audit_events(alert_id, 2)
    insert_alerts(1, signature="mutt:rule:7:router1:Gi0/1", state="delivered", attempts=1, last_status=202)
    shown = mutt("alerts", "show", str(alert_id)).output
    assert f"alert {alert_id}: open; occurrences since it opened: 1" in shown
    assert "events (newest 2 of 2):" in shown and "link down #1" in shown
    assert "deliveries to Moogsoft (newest 1 of 1):" in shown and "delivered  severity 4  1 attempts  last status 202" in shown
    assert json.loads(mutt("alerts", "show", str(alert_id), "--json").output)["key"] == "Gi0/1"
    missing = mutt("alerts", "show", "999")
    assert missing.exit_code == 1 and "no alert with id 999" in missing.output
