"""mutt rules export | import against a real database: diff, dry run, audited changes, refusals."""

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from mutt_app import rulebook
from mutt_app.cli import cli
from mutt_app.db import session_scope
from mutt_app.models import ConfigAudit

RULE = {"name": "link down", "match_string": "LINK-3-UPDOWN", "prod_handling": "page_only", "dev_handling": "ignore",
        "team_assignment": "NETO"}


@pytest.fixture
def book(redis, database_url):
    with session_scope() as session:
        for table in ("rules", "development_hosts", "device_teams"):
            session.execute(__import__("sqlalchemy").text(f"DELETE FROM {table}"))
        rulebook.create_rule(session, RULE, actor="test")
        rulebook.create_rule(session, {**RULE, "name": "fan failed", "match_string": "FAN-FAIL", "priority": 50}, actor="test")
        rulebook.add_dev_host(session, "lab-router-01", actor="test")
        rulebook.set_team(session, "core-router-01", "NETO", actor="test")


def mutt(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def audit_count() -> int:
    with session_scope() as session:
        return len(session.scalars(select(ConfigAudit)).all())


def stored():
    with session_scope() as session:
        return ({r.name: (r.priority, r.match_string) for r in rulebook.list_rules(session)},
                [h["hostname"] for h in rulebook.list_dev_hosts(session)],
                {t["hostname"]: t["team_assignment"] for t in rulebook.list_teams(session)})


def test_export_then_import_of_the_same_document_changes_nothing(book, tmp_path):
    path = tmp_path / "rules.yaml"
    assert mutt("rules", "export", "-o", str(path)).exit_code == 0
    document = yaml.safe_load(path.read_text())
    assert [r["name"] for r in document["rules"]] == ["fan failed", "link down"]  # matching order
    assert document["development_hosts"] == ["lab-router-01"] and document["device_teams"] == {"core-router-01": "NETO"}
    before = audit_count()
    result = mutt("rules", "import", str(path))
    assert result.exit_code == 0 and "no changes" in result.output
    assert audit_count() == before


def test_import_shows_the_diff_dry_run_changes_nothing_and_the_real_run_is_audited(book, tmp_path):
    document = yaml.safe_load(mutt("rules", "export").output)
    fan, link = document["rules"]
    fan["priority"] = 10
    document["rules"] = [fan, {**RULE, "name": "bgp down", "match_string": "BGP-5-ADJCHANGE"}]  # link down goes
    document["development_hosts"] = ["lab-router-02"]
    document["device_teams"] = {"core-router-01": "CORE", "edge-fw-01": "SEC"}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(document))
    before, audit_before = stored(), audit_count()

    dry = mutt("rules", "import", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"~ rule {fan['id']} (fan failed)\n    priority: 50 -> 10" in dry.output
    assert "+ new rule (bgp down)" in dry.output and f"- rule {link['id']} (link down)" in dry.output
    assert "+ development host lab-router-02" in dry.output and "- development host lab-router-01" in dry.output
    assert "core-router-01\n    team_assignment: 'NETO' -> 'CORE'" in dry.output
    assert "7 changes: 3 to create, 2 to update, 2 to delete" in dry.output and "dry run: nothing changed" in dry.output
    assert stored() == before and audit_count() == audit_before

    declined = mutt("rules", "import", str(path), input="n\n")
    assert declined.exit_code == 1 and stored() == before

    done = mutt("rules", "import", str(path), "--yes", "--reason", "CHG-1234")
    assert done.exit_code == 0, done.output
    assert stored() == ({"fan failed": (10, "FAN-FAIL"), "bgp down": (100, "BGP-5-ADJCHANGE")}, ["lab-router-02"],
                        {"core-router-01": "CORE", "edge-fw-01": "SEC"})
    with session_scope() as session:
        reasons = [row.reason for row in session.scalars(select(ConfigAudit).order_by(ConfigAudit.id))][audit_before:]
    assert reasons == ["CHG-1234"] * 7
    assert mutt("rules", "import", str(path)).output.startswith("no changes")


@pytest.mark.parametrize("text, message", [
    ("rules: [{name: x}]", "missing required field(s)"),
    ("rules: [{id: 999, match_string: a, prod_handling: Page_only, dev_handling: Ignore, team_assignment: t}]", "no rule with id 999"),
    ("rules: [{match_string: '(', match_type: regex, prod_handling: Page_only, dev_handling: Ignore, team_assignment: t}]", "rules[1]"),
    ("development_hosts: ['bad host!']", "is not a hostname"),
    ("teams: {}", "unknown section(s) teams"),
    ("rules: [", "not valid YAML"),
])
def test_an_invalid_document_is_refused_whole_with_every_reason(book, tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    before, audit_before = stored(), audit_count()
    result = mutt("rules", "import", str(path), "--yes")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert stored() == before and audit_count() == audit_before
