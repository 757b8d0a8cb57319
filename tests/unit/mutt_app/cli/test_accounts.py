"""`mutt apikey create | revoke` when Redis, through which running processes learn of a key
change, does not answer: before the change (nothing is changed) or only after the commit."""

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mutt_app import config
from mutt_app.access import api_keys
from mutt_app.cli import cli
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ApiKey


def mutt(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def stored_keys() -> list[ApiKey]:
    with session_scope() as session:
        return list(session.scalars(select(ApiKey)))


@pytest.fixture
def redis_down(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    config.reset()
    yield
    monkeypatch.undo()
    config.reset()


@pytest.mark.parametrize("command", [["apikey", "create", "--name", "rsyslog", "--scope", "ingest"],
                                     ["apikey", "revoke", "1"]])
def test_with_redis_unreachable_the_command_says_so_in_one_line_and_changes_nothing(redis, sqlite_url, redis_down, command):
    result = mutt(*command)
    assert result.exit_code == 1
    assert result.output == (f"Error: cannot reach Redis at redis://127.0.0.1:1/0; `mutt apikey {command[1]}` "
                             "needs it. Nothing was changed.\n")
    assert stored_keys() == []


def test_a_key_created_as_redis_fails_is_still_shown_and_the_failure_named(redis, sqlite_url):
    redis.set(redis_keys.APIKEYS_VERSION, "not-a-counter")  # INCR after the commit fails, as it would with Redis gone
    result = mutt("apikey", "create", "--name", "rsyslog", "--scope", "ingest")
    assert result.exit_code == 1
    [key] = stored_keys()
    lines = result.output.splitlines()
    secret = lines[1]
    assert api_keys.digest(secret) == key.digest  # the committed key's secret was shown
    assert lines[-1] == (f"Error: key {key.id} was created, but running MUTT processes were not told "
                         "(bump_version: ResponseError: value is not an integer or out of range); once Redis answers, "
                         f"run `mutt apikey create` again (and revoke key {key.id})")
    assert "Traceback" not in result.output and "InvalidRequestError" not in result.output


def test_revoking_again_announces_a_revocation_redis_missed(redis, sqlite_url):
    with session_scope() as session:
        row, _ = api_keys.create(session, "rsyslog", ["ingest"], actor="test")
    redis.set(redis_keys.APIKEYS_VERSION, "not-a-counter")
    missed = mutt("apikey", "revoke", str(row.id))
    assert missed.exit_code == 1 and f"run `mutt apikey revoke {row.id}` again" in missed.output
    assert stored_keys()[0].revoked_at is not None

    redis.delete(redis_keys.APIKEYS_VERSION)  # Redis answers again
    again = mutt("apikey", "revoke", str(row.id))
    assert again.exit_code == 0 and again.output == f"key {row.id} revoked\n"
    assert redis.get(redis_keys.APIKEYS_VERSION) == "1"  # every process reloads the keys
