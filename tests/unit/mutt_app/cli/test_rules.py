"""mutt rules export | import against a real database: diff, dry run, audited changes, refusals."""

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from mutt_app.cli import cli
from mutt_app.rules import host_store, rule_store
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit

OK = "match_string: a, prod_handling: Ignore, dev_handling: Ignore, team_assignment: t"
RULE = {"name": "link down", "match_string": "LINK-3-UPDOWN", "prod_handling": "page_only", "dev_handling": "ignore",
        "team_assignment": "NETO"}


@pytest.fixture
def book(redis, database_url):
    with session_scope() as session:
        for table in ("rules", "development_hosts", "device_teams"):
            session.execute(__import__("sqlalchemy").text(f"DELETE FROM {table}"))
        rule_store.create_rule(session, RULE, actor="test")
        rule_store.create_rule(session, {**RULE, "name": "fan failed", "match_string": "FAN-FAIL", "priority": 50}, actor="test")
        host_store.add_dev_host(session, "lab-router-01", actor="test")
        host_store.set_team(session, "core-router-01", "NETO", actor="test")


def mutt(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def audit_count() -> int:
    with session_scope() as session:
        return len(session.scalars(select(ConfigAudit)).all())


def stored():
    with session_scope() as session:
        return ({r.name: (r.priority, r.match_string) for r in rule_store.list_rules(session)},
                [h["hostname"] for h in host_store.list_dev_hosts(session)],
                {t["hostname"]: t["team_assignment"] for t in host_store.list_teams(session)})


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
    # malformed types name the rule and the field, never a traceback
    (f"rules: [{{name: x, {OK}, priority: high}}]", "rules[1] (x): priority must be an integer, got 'high'"),
    (f"rules: [{{name: x, {OK}, priority: 1.5}}]", "rules[1] (x): priority must be an integer, got float"),
    ("rules: [{name: x, match_string: [a, b], prod_handling: Ignore, dev_handling: Ignore, team_assignment: t}]",
     "rules[1] (x): match_string must be a string, got list"),
    ("rules: [{name: x, match_string: a, prod_handling: Ignore, dev_handling: Ignore}]",
     "rules[1] (x): missing required field(s): team_assignment"),
    (f"rules: [{{id: abc, name: x, {OK}}}]", "rules[1] (x): id must be a whole number (a stored rule's id), got 'abc'"),
    (f"rules: [{{id: [1], name: x, {OK}}}]", "rules[1] (x): id must be a whole number"),
    (f"rules: [{{id: true, name: x, {OK}}}]", "rules[1] (x): id must be a whole number"),
    (f"rules: [{{1: one, name: x, {OK}}}]", "rules[1] (x): field names must be text, got 1"),
    ("rules: [just a string]", "rules[1]: a rule must be a mapping of field: value, got 'just a string'"),
    ("rules: {name: x}", "rules must be a list"),
    ("development_hosts: lab-router-01", "development_hosts must be a list"),
    (f"rules: [{{name: x, {OK}, syslog_severity: [3]}}]", "rules[1] (x): syslog_severity must be 0-7"),
    (f"rules: [{{name: x, {OK}, is_active: maybe}}]", "rules[1] (x): is_active must be true or false"),
    # trap OIDs are dotted numbers (ASCII digits)
    ("rules: [{name: x, match_type: oid_prefix, trap_oid: .1.3.6.x, prod_handling: Ignore, dev_handling: Ignore, "
     "team_assignment: t}]", "rules[1] (x): trap_oid must be a dotted OID"),
    ("rules: [{name: x, match_type: oid_prefix, trap_oid: '.1.3.\u0663', prod_handling: Ignore, dev_handling: Ignore, "
     "team_assignment: t}]", "rules[1] (x): trap_oid must be a dotted OID"),
    ("rules: [{name: x, match_type: oid_prefix, trap_oid: '.1..3', prod_handling: Ignore, dev_handling: Ignore, "
     "team_assignment: t}]", "rules[1] (x): trap_oid must be a dotted OID"),
    # handling decisions are a closed set; patterns must run on RE2
    ("rules: [{name: x, match_string: a, prod_handling: Pgae_only, dev_handling: Ignore, team_assignment: t}]",
     "rules[1] (x): prod_handling must be one of Page_and_ticket, Page_only, Ticket_only, Ignore (any case), got 'Pgae_only'"),
    ("rules: [{name: x, match_string: a, prod_handling: Page_only, dev_handling: page only, team_assignment: t}]",
     "rules[1] (x): dev_handling must be one of"),
    ("rules: [{name: x, match_type: regex, match_string: 'a(?=b)', prod_handling: Ignore, dev_handling: Ignore, "
     "team_assignment: t}]",
     "rules[1] (x): match_string is not a valid regular expression for RE2 (linear-time matching): lookahead"),
    ("rules: [{name: x, name: y}]", "line 1: the key name is given twice in one mapping"),
    (f"rules: [{{name: x, {OK}, priority: {'9' * 5000}}}]", "not valid YAML: a value cannot be read (Exceeds the limit"),
    (f"rules: [{{name: x, {OK}, description: 2024-13-45}}]", "not valid YAML: a value cannot be read (month must be in 1..12)"),
], ids=lambda value: value[:60] if isinstance(value, str) else None)
def test_an_invalid_document_is_refused_whole_with_every_reason(book, tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    before, audit_before = stored(), audit_count()
    result = mutt("rules", "import", str(path), "--yes")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert stored() == before and audit_count() == audit_before


LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n" for previous, name in zip("abcdefgh", "bcdefghi", strict=True))


@pytest.mark.parametrize("text, message", [
    (LAUGHS + f"rules: [{{name: *i, {OK}}}]\n", "expands to more than 1,000,000 values"),
    ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
    ("# padding\n" * 600_000, "larger than 5 MiB"),
], ids=["billion-laughs", "deep-nesting", "over-5-MiB"])
def test_hostile_documents_are_refused_before_they_are_expanded(book, tmp_path, text, message):
    """A 10**9-value alias bomb, a document nested past the parser's recursion, a file over the
    bound: one clear line each, nothing changed, no traceback, no memory blow-up."""
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    before, audit_before = stored(), audit_count()
    result = mutt("rules", "import", str(path), "--yes")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert len(result.output.splitlines()) == 1 and stored() == before and audit_count() == audit_before


def test_a_document_may_share_fields_with_anchors_and_merge_keys(book, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n"
                    "  - &link {name: link down, match_string: LINK-3-UPDOWN, prod_handling: Page_only, dev_handling: Ignore,\n"
                    "           team_assignment: NETO}\n"
                    "  - {<<: *link, name: fan failed, match_string: FAN-FAIL, priority: 50}\n"
                    "development_hosts: [lab-router-01]\ndevice_teams: {core-router-01: NETO}\n", encoding="utf-8")
    assert mutt("rules", "import", str(path), "--yes").output.startswith("no changes")


def test_clear_patterns_go_out_and_come_back_with_the_rule_book(book, tmp_path):
    document = yaml.safe_load(mutt("rules", "export").output)
    document["rules"].append({"name": "linkDown", "match_type": "oid_prefix", "trap_oid": ".1.3.6.1.6.3.1.1.5.3",
                              "clear_trap_oid": ".1.3.6.1.6.3.1.1.5.4", "prod_handling": "Ignore", "dev_handling": "Ignore",
                              "team_assignment": "t"})
    document["rules"][0]["clear_match_string"] = "FAN-OK"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(document))
    planned = mutt("rules", "import", "--dry-run", str(path)).output
    assert "clear_match_string: None -> 'FAN-OK'" in planned and "new rule (linkDown)" in planned
    assert mutt("rules", "import", str(path), "--yes").exit_code == 0
    exported = yaml.safe_load(mutt("rules", "export").output)["rules"]
    by_name = {rule["name"]: rule for rule in exported}
    assert by_name["fan failed"]["clear_match_string"] == "FAN-OK" and "clear_match_string" not in by_name["link down"]
    assert by_name["linkDown"]["clear_trap_oid"] == ".1.3.6.1.6.3.1.1.5.4"
    path.write_text(mutt("rules", "export").output)
    assert "no changes" in mutt("rules", "import", str(path)).output  # the round trip is stable
    by_name["link down"]["clear_trap_oid"] = ".1.3"  # a contains rule cannot clear on a trap OID
    path.write_text(yaml.safe_dump({"rules": exported}))
    refused = CliRunner().invoke(cli, ["rules", "import", str(path), "--yes"])
    assert refused.exit_code != 0 and "clear_trap_oid: only an oid_prefix rule" in refused.output
