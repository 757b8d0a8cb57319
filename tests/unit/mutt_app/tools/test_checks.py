"""mutt_app.tools.checks against the real web app served over HTTP on a thread (no worker needed)."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from mutt_app.access import api_keys
from mutt_app.storage.db import session_scope
from mutt_app.tools import checks


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with session_scope() as session:
        _, admin = api_keys.create(session, "checks admin", ["admin"], actor="test")
        _, ingest = api_keys.create(session, "checks ingest", ["ingest"], actor="test")
    yield f"http://127.0.0.1:{server.server_port}", admin, ingest
    server.shutdown()


def test_health_check_reports_version_and_dependencies(served):
    url, _, _ = served
    detail = checks.check_health(checks.Stack(url))
    assert "healthy" in detail and "redis ok" in detail and "database ok" in detail


def test_config_reload_sets_reads_back_and_restores(served):
    url, admin, _ = served
    stack = checks.Stack(url, admin_key=admin)
    before = stack.setting("alerter_queue_warn_threshold")
    [result] = checks.run(stack, [("reload", checks.check_config_reload)])
    assert result.status == "passed", result.detail
    assert stack.setting("alerter_queue_warn_threshold") == before  # restored: not overridden any more


def test_a_check_without_what_it_needs_is_skipped_and_a_wrong_answer_fails(served):
    url, admin, _ = served
    results = checks.run(checks.Stack(url), [("needs admin", checks.check_config_reload),
                                             ("needs logs", checks.check_log_streaming)])
    assert [(r.status, r.detail) for r in results] == [("skipped", "needs --admin-key"), ("skipped", "needs --logs")]
    [failed] = checks.run(checks.Stack(url, admin_key="not-a-key"), [("reload", checks.check_config_reload)])
    assert failed.status == "failed" and "401" in failed.detail and "not-a-key" not in failed.detail


def test_unreachable_stack_fails_every_check_with_the_reason():
    [result] = checks.run(checks.Stack("http://127.0.0.1:9"), [("health", checks.check_health)])
    assert result.status == "failed" and "ConnectionError" in result.detail


def test_log_tail_sees_only_text_written_after_it_started(tmp_path):
    log = tmp_path / "worker.log"
    log.write_text("old marker-1\n")
    tail = checks.LogTail([log])
    assert tail.files_containing("marker-1") == []
    with open(log, "a") as handle:
        handle.write("new marker-1\n")
    assert tail.files_containing("marker-1") == [log]


def test_results_are_written_as_a_markdown_table(served):
    url, _, _ = served
    results = [checks.Result("health", "passed", "healthy | fine", 0.2), checks.Result("logs", "skipped", "needs --logs", 0.0)]
    text = checks.markdown(checks.Stack(url), results, "Operator validation results")
    assert text.startswith("# Operator validation results")
    assert "1 passed, 0 failed, 1 skipped" in text
    assert "| health | passed | 0.2 | healthy / fine |" in text
