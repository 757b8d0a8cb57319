"""mutt send against the real ingest of a `mutt web` process: v2.5's sample file, every event accepted
and counted by MUTT itself."""

import json
import subprocess

import pytest

from mutt_app.access import api_keys
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.storage.db import session_scope
from tests.support.processes import mutt, mutt_env, start_web

pytestmark = pytest.mark.integration

SAMPLES = "tests/data/test_data_syslog_events.json"


def test_mutt_send_posts_v25_samples_to_a_real_web_and_every_event_is_accepted(redis, pg_url, tmp_path):
    from tests.conftest import REDIS_URL

    with session_scope() as session:
        _, key = api_keys.create(session, "mutt send test", ["ingest"], actor="test")
    env = mutt_env(REDIS_URL, pg_url, tmp_path / "home")
    web, url = start_web(env, tmp_path, workers=1)
    try:
        result = subprocess.run(
            mutt("send", "--url", url + "/api/v2/ingest", "--file", SAMPLES, "--count", "132", "--batch", "5",
                 "--concurrency", "4", "--json"),
            env={**env, "MUTT_API_KEY": key}, capture_output=True, text=True, timeout=120)
        report = json.loads(result.stdout)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (report["events"], report["accepted"], report["requests"]) == (132, 132, 27)
        assert report["latency_ms"]["p50"] is not None
        assert key not in result.stdout + result.stderr
        assert EventBuffer(redis).stats().get("accepted") == 132
    finally:
        web.stop()
