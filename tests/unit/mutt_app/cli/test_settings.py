import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mutt_app import dynconfig
from mutt_app.cli import cli
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit


@pytest.fixture
def mutt(redis, sqlite_url):
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run


def audit_rows():
    with session_scope() as session:
        return [(r.changed_by.startswith("cli"), r.operation, r.record_id, r.old_values, r.new_values, r.reason)
                for r in session.scalars(select(ConfigAudit).order_by(ConfigAudit.id))]


def test_set_get_unset_round_trip_is_audited_and_seen_by_another_process(mutt, redis):
    other_process = dynconfig.RuntimeConfig(redis)
    result = mutt("config", "set", "moog_rate_limit", "120", "--reason", "Moog upgraded")
    assert result.exit_code == 0, result.output
    assert "50 -> 120" in result.output
    other_process._checked_at = 0
    assert other_process.get("moog_rate_limit") == 120

    shown = mutt("config", "get", "moog_rate_limit")
    assert shown.output.startswith("moog_rate_limit = 120\n")
    assert json.loads(mutt("config", "get", "moog_rate_limit", "--json").output)["overridden"] is True

    listing = mutt("config", "list")
    assert any(line.startswith("* moog_rate_limit") and "(default 50)" in line for line in listing.output.splitlines())
    assert len(json.loads(mutt("config", "list", "--json").output)) == len(dynconfig.REGISTRY)

    result = mutt("config", "unset", "moog_rate_limit", "--reason", "back to normal")
    assert result.exit_code == 0 and "120 -> 50" in result.output
    other_process._checked_at = 0
    assert other_process.get("moog_rate_limit") == 50
    assert audit_rows() == [
        (True, "UPDATE", "moog_rate_limit", {"value": 50}, {"value": 120}, "Moog upgraded"),
        (True, "DELETE", "moog_rate_limit", {"value": 120}, {"value": 50}, "back to normal"),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (("set", "moog_rate", "5"), "unknown setting 'moog_rate'"),
        (("set", "moog_rate_limit", "fast"), "moog_rate_limit must be a whole number"),
        (("set", "moog_rate_limit", "0"), "must be at least 1"),
        (("set", "alerter_shed_mode", "drop"), "one of defer, dlq"),
        (("unset", "nope"), "unknown setting"),
        (("get", "nope"), "unknown setting"),
    ],
)
def test_refusals_exit_1_with_a_message_and_change_nothing(mutt, redis, args, message):
    result = mutt("config", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert redis.hgetall("mutt:config") == {}
    assert audit_rows() == []


@pytest.mark.parametrize("value", ["nan", "inf", "Infinity", "1e400"])
def test_config_set_refuses_a_number_that_is_not_finite(mutt, value):
    result = mutt("config", "set", "moog_rate_period", value, "--reason", "typo")
    assert result.exit_code != 0 and "must be a finite number" in result.output
    assert dynconfig.get("moog_rate_period") == 1.0 and audit_rows() == []
