import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mutt_app.cli import cli
from mutt_app.dead_letters import dlq
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit, DeadLetter
from tests.support.recovery import queued_batch_ids


@pytest.fixture
def mutt(redis, sqlite_url):
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return run


def make_letters(n, reason=dlq.PROCESSING_FAILED):
    with session_scope() as session:
        dlq.record_many(session, dlq.EVENT, reason, [(f"e{i}", {"_id": f"e{i}", "message": "m"}, "KeyError: x") for i in range(n)])
    with session_scope() as session:
        return list(session.scalars(select(DeadLetter.id).order_by(DeadLetter.id)))


def test_list_and_show(mutt):
    ids = make_letters(3)
    listed = mutt("dlq", "list", "--cause", "processing_failed", "--limit", "2")
    assert listed.exit_code == 0 and "page 1 of 2 (3 dead letters)" in listed.output and "KeyError" in listed.output
    assert "no dead letters match" in mutt("dlq", "list", "--cause", "shed").output
    shown = json.loads(mutt("dlq", "show", str(ids[0])).output)
    assert shown["payload"]["_id"] == "e0"
    missing = mutt("dlq", "show", "999")
    assert missing.exit_code == 1 and "no dead letter with id 999" in missing.output


def test_replay_by_filter_with_progress_and_a_reason(mutt, redis):
    make_letters(450)
    result = mutt("dlq", "replay", "--cause", "processing_failed", "--reason", "parser fixed")
    assert result.exit_code == 0 and "replayed 450, skipped 0" in result.output
    batch_ids = queued_batch_ids(redis)  # one alerter task per batch, every replayed event in one
    assert sum(redis.llen(redis_keys.batch(batch_id)) for batch_id in batch_ids) == 450
    with session_scope() as session:
        reasons = set(session.scalars(select(ConfigAudit.reason).where(ConfigAudit.table_name == "dead_letters")))
        assert reasons == {"parser fixed"}


def test_replay_explains_what_it_skipped_and_needs_a_selection(mutt):
    [letter_id] = make_letters(1, dlq.INVALID_EVENT)
    result = mutt("dlq", "replay", str(letter_id))
    assert "replayed 0, skipped 1" in result.output and "force" in result.output
    # forced, an invalid event is checked as ingest checks it: this one has no hostname
    forced = mutt("dlq", "replay", str(letter_id), "--force").output
    assert "replayed 0, skipped 1" in forced and "still not a valid event: hostname: required" in forced
    with session_scope() as session:
        session.get(DeadLetter, letter_id).payload = {"hostname": "h1", "message": "m", "timestamp": 1}
    assert "replayed 1" in mutt("dlq", "replay", str(letter_id), "--force").output
    assert mutt("dlq", "replay").exit_code == 2


def test_purge_asks_unless_yes(mutt):
    ids = make_letters(2)
    assert mutt("dlq", "purge", str(ids[0]), input="n\n").exit_code == 1
    assert "purged 1" in mutt("dlq", "purge", str(ids[0]), "--reason", "junk", input="y\n").output
    assert "purged 1" in mutt("dlq", "purge", "--kind", "event", "--yes").output
    with session_scope() as session:
        assert session.scalars(select(DeadLetter)).all() == []
