"""A separate worker process (prefork, two children) loads the rules as it starts, and a rule
change reaches it within a second."""

from __future__ import annotations

import pytest

from mutt_app.ingest.buffer import EventBuffer
from mutt_app.rules import seed
from mutt_app.storage.db import session_scope
from tests.integration.alerter.test_process_events import switch_over
from tests.support.processes import mutt_env, start_worker, wait_until

pytestmark = pytest.mark.integration


def test_a_rule_change_reaches_every_worker_process_within_a_second(redis, pg_url, tmp_path):
    from tests.conftest import REDIS_URL

    with session_scope() as session:
        seed.load_if_empty(session)
    worker = start_worker(mutt_env(REDIS_URL, pg_url, tmp_path / "home"), tmp_path, queues="alerts", concurrency=2)
    try:
        wait_until(lambda: worker.log().count("rule set loaded") == 2, timeout=10,
                   message="each pool process loaded the rule set before its first batch")
        # batches of two events: both pool processes get work, each with its own rule-set cache
        after, first_match = switch_over(EventBuffer(redis), "%QUUX-2-ZAP it broke", batch_size=2)
    finally:
        worker.stop()
    assert after and all(after), "every event sent more than 1 s after the change matched the new rule"
    assert first_match < 1.0
