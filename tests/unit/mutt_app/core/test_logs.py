import json
import logging
import math
import time

import pytest

from mutt_app import config, dynconfig
from mutt_app.core import logs
from mutt_app.storage.db import session_scope


def wait_for_level(name: str, timeout: float = 1.0) -> float:
    started = time.monotonic()
    while logging.getLevelName(logging.getLogger().level) != name:
        assert time.monotonic() - started < timeout, f"root level still {logging.getLevelName(logging.getLogger().level)}"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
def root_level():
    before = logging.getLogger().level
    yield
    logs.stop_following()
    logging.getLogger().setLevel(before)


def test_log_level_follows_the_runtime_setting_within_a_second(redis, sqlite_url, root_level):
    config.reset()
    logs.configure(runtime_level=dynconfig.log_level)
    assert logging.getLevelName(logging.getLogger().level) == config.get().log_level == "INFO"
    with session_scope() as session:
        dynconfig.change(session, "log_level", "DEBUG", actor="test")
    wait_for_level("DEBUG")
    with session_scope() as session:
        dynconfig.change(session, "log_level", "ERROR", actor="test")
    wait_for_level("ERROR")
    with session_scope() as session:
        dynconfig.change(session, "log_level", None, actor="test")  # back to LOG_LEVEL
    wait_for_level("INFO")


def test_json_lines_carry_the_correlation_id_of_the_block():
    formatter = logs.JsonFormatter()
    record = logging.LogRecord("mutt.test", logging.INFO, __file__, 1, "matched %s", ("rule 7",), None)
    with logs.correlated("abc-123"):
        inside = json.loads(formatter.format(record))
    outside = json.loads(formatter.format(record))
    assert inside["correlation_id"] == "abc-123" and inside["message"] == "matched rule 7"
    assert "correlation_id" not in outside


def test_a_runtime_level_that_cannot_be_read_is_logged_at_most_once_a_minute(redis, monkeypatch, caplog, root_level):
    from tests.support.faults import closed_port_url

    logging.getLogger().setLevel("INFO")
    monkeypatch.setenv("REDIS_URL", closed_port_url())
    config.reset()
    with caplog.at_level(logging.INFO, logger="mutt_app.core.logs"):
        warned_at = logs.check_runtime_level(dynconfig.log_level, -math.inf)
        time.sleep(dynconfig.REFRESH_SECONDS)  # the next check asks Redis again, and fails again
        assert logs.check_runtime_level(dynconfig.log_level, warned_at) == warned_at
        time.sleep(dynconfig.REFRESH_SECONDS)
        assert logs.check_runtime_level(dynconfig.log_level, warned_at - logs.FAILURE_LOG_SECONDS) > warned_at  # a minute on: said again
    failures = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(failures) == 2 and not failures[0].exc_info  # an outage, not a bug: no traceback
    assert failures[0].getMessage().startswith("cannot read the runtime setting log_level (ConnectionError: Error 111 ")
    assert "keeping INFO" in failures[0].getMessage()
    assert logging.getLevelName(logging.getLogger().level) == "INFO"
