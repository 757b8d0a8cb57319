import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mutt_app.cli import cli
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit


@pytest.fixture
def mutt(redis, sqlite_url):
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


def test_add_list_and_remove_a_heartbeat(mutt, redis):
    added = mutt("heartbeat", "add", "--host", "Edge-1", "--every", "300", "--comment", "site uplink")
    assert added.exit_code == 0 and "heartbeat 1: edge-1 must be heard from every 300 s" in added.output
    assert "edge-1" in mutt("heartbeat", "list").output and "never" in mutt("heartbeat", "list").output
    redis.zadd(redis_keys.HEARTBEATS_LAST_SEEN, {"hostname:edge-1": 1_800_000_000_000})
    assert "2027-01-15T08:00:00" in mutt("heartbeat", "list").output
    assert mutt("heartbeat", "remove", "1", "--reason", "site closed").exit_code == 0
    assert mutt("heartbeat", "list").output.strip() == "no heartbeats"
    with session_scope() as session:
        reasons = session.scalars(select(ConfigAudit.reason).where(ConfigAudit.table_name == "heartbeats")).all()
    assert reasons == ["site uplink", "site closed"]


def test_a_refused_heartbeat_is_one_line_naming_the_field(mutt):
    refused = mutt("heartbeat", "add", "--source", "relay-a", "--every", "5", "--comment", "x")
    assert refused.exit_code == 1 and "Error: interval_seconds must be between 10" in refused.output
    missing = mutt("heartbeat", "remove", "42")
    assert missing.exit_code == 1 and "no heartbeat 42" in missing.output
