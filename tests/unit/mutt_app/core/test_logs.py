import json
import logging
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
