"""mutt silence add | list | expire, and silences in mutt rules export | import, on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import text

from mutt_app.cli import cli
from mutt_app.cli.silence import parse_match
from mutt_app.storage.db import session_scope
from mutt_app.suppression import silence_store
from mutt_app.suppression.silences import SilenceError


@pytest.fixture
def empty(redis, database_url):
    with session_scope() as session:
        for table in ("silences", "rules", "development_hosts", "device_teams"):
            session.execute(text(f"DELETE FROM {table}"))


def mutt(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


def stored():
    with session_scope() as session:
        return [silence_store.to_dict(row) for row in silence_store.list_silences(session)]


def test_add_for_two_hours_list_and_expire(empty):
    added = mutt("silence", "add", "--host", "core-rtr-01", "--for", "2h", "--comment", "line card swap",
                 "--match", "message=contains=LINK")
    assert added.exit_code == 0, added.output
    silence_id = int(added.output.strip())
    [silence] = stored()
    assert silence["matchers"] == [{"field": "hostname", "op": "=", "value": "core-rtr-01"},
                                   {"field": "message", "op": "contains", "value": "LINK"}]
    length = datetime.fromisoformat(silence["ends_at"]) - datetime.fromisoformat(silence["starts_at"])
    assert timedelta(hours=2) - timedelta(seconds=2) < length <= timedelta(hours=2)
    assert silence["created_by"].startswith("cli")
    listed = mutt("silence", "list", "--state", "active")
    assert f"{silence_id}\tactive" in listed.output and "hostname=core-rtr-01 message contains LINK" in listed.output
    assert mutt("silence", "expire", str(silence_id), "--reason", "done").exit_code == 0
    assert stored()[0]["state"] == "expired"
    assert "no silences active" in mutt("silence", "list", "--state", "active").output


def test_add_a_recurring_window(empty):
    added = mutt("silence", "add", "--match", "environment=dev", "--rrule", "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2",
                 "--duration", "2h", "--tz", "Europe/London", "--comment", "weekly patching")
    assert added.exit_code == 0, added.output
    assert stored()[0]["schedule"] == {"rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0", "duration_seconds": 7200,
                                       "time_zone": "Europe/London"}


@pytest.mark.parametrize("args, words", [
    (("--host", "r1", "--for", "2 fortnights", "--comment", "x"), "--for: a duration"),
    (("--for", "2h", "--comment", "x"), "matchers is required"),
    (("--host", "r1", "--for", "400d", "--comment", "x"), "longer than a year"),
    (("--match", "hostname~r1", "--for", "1h", "--comment", "x"), "field=value"),
    (("--match", "colour=red", "--for", "1h", "--comment", "x"), "unknown field 'colour'"),
    (("--host", "r1", "--rrule", "FREQ=DAILY", "--comment", "x"), "needs --duration"),
])
def test_refusals_are_one_line_errors(empty, args, words):
    answer = mutt("silence", "add", *args)
    assert answer.exit_code == 1 and words in answer.output and "Traceback" not in answer.output
    assert stored() == []


def test_match_syntax():
    assert parse_match("message=~LINK.*down") == {"field": "message", "op": "=~", "value": "LINK.*down"}
    assert parse_match("hostname!=r1") == {"field": "hostname", "op": "!=", "value": "r1"}
    assert parse_match("team=NetOps=East") == {"field": "team", "op": "=", "value": "NetOps=East"}
    assert parse_match("message=prefix=%LINK") == {"field": "message", "op": "prefix", "value": "%LINK"}
    with pytest.raises(SilenceError):
        parse_match("hostname")


def test_silences_round_trip_through_the_rules_yaml(empty, tmp_path):
    ends = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    with session_scope() as session:
        kept = silence_store.create(session, {"matchers": [{"field": "hostname", "op": "=", "value": "r1"}],
                                              "comment": "keep", "ends_at": ends}, actor="test").id
        dropped = silence_store.create(session, {"matchers": [{"field": "hostname", "op": "=", "value": "r2"}],
                                                 "comment": "drop", "ends_at": ends}, actor="test").id
    path = tmp_path / "book.yaml"
    assert mutt("rules", "export", "-o", str(path)).exit_code == 0
    document = yaml.safe_load(path.read_text())
    assert [s["id"] for s in document["silences"]] == [kept, dropped]
    assert "no changes" in mutt("rules", "import", str(path), "-y").output
    document["silences"] = [document["silences"][0] | {"comment": "keep, extended"},
                            {"matchers": [{"field": "team", "op": "=", "value": "NetOps"}], "comment": "new",
                             "ends_at": ends}]
    path.write_text(yaml.safe_dump(document))
    imported = mutt("rules", "import", str(path), "-y")
    assert imported.exit_code == 0, imported.output
    assert f"~ silence {kept}" in imported.output and f"- silence {dropped}" in imported.output
    by_comment = {s["comment"]: s["state"] for s in stored()}
    assert by_comment == {"keep, extended": "active", "drop": "expired", "new": "active"}


def test_a_document_without_silences_leaves_them_alone_and_a_bad_one_changes_nothing(empty, tmp_path):
    with session_scope() as session:
        silence_store.create(session, {"matchers": [{"field": "hostname", "op": "=", "value": "r1"}], "comment": "x",
                                       "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, actor="test")
    path = tmp_path / "book.yaml"
    path.write_text(yaml.safe_dump({"rules": []}))
    assert "no changes" in mutt("rules", "import", str(path), "-y").output
    path.write_text(yaml.safe_dump({"silences": [{"matchers": [], "comment": "everything"}]}))
    refused = mutt("rules", "import", str(path), "-y")
    assert refused.exit_code == 1 and "silences[1]: matchers is required" in refused.output
    assert [s["state"] for s in stored()] == ["active"]
