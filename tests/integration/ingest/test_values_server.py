"""Hostile values against the real server (granian) on PostgreSQL: non-finite numbers, Unicode
digits, ids beyond 64 bits, NUL characters, NDJSON line separators. Every answer a 4xx or a
200 that keeps the event whole; no answer carries NaN/Infinity."""

import json

import pytest
import requests

from mutt_app.access import api_keys
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from tests.support.processes import mutt_env, start_web

pytestmark = pytest.mark.integration

EVENT = {"hostname": "core-router-01", "timestamp": "2025-01-15T14:30:22Z", "message": "link down"}


def strict(response) -> dict:
    def refuse(name):
        raise AssertionError(f"{name} in the answer to {response.request.method} {response.request.url}")

    return json.loads(response.text, parse_constant=refuse)


@pytest.fixture
def web(redis, pg_url, tmp_path):
    from tests.conftest import REDIS_URL

    with session_scope() as session:
        _, ingest_key = api_keys.create(session, "sender", ["ingest"], actor="test")
        _, admin_key = api_keys.create(session, "ops", ["admin", "operator", "read"], actor="test")
    process, url = start_web(mutt_env(REDIS_URL, pg_url, tmp_path / "home"), tmp_path, workers=1)
    yield url, {"X-API-KEY": ingest_key}, {"X-API-KEY": admin_key}
    process.stop()


def test_hostile_values_get_a_4xx_and_events_stay_whole(web, redis):
    url, sender, admin = web
    for body in ('{"value": NaN, "reason": "x"}', '{"value": 1e400, "reason": "x"}'):
        response = requests.put(url + "/api/v2/config/moog_rate_period", data=body, timeout=10,
                                headers={**admin, "Content-Type": "application/json"})
        assert response.status_code == 400, response.text
    assert requests.put(url + "/api/v2/config/moog_rate_period", json={"value": "nan"}, headers=admin,
                        timeout=10).status_code == 422
    settings = strict(requests.get(url + "/api/v2/config", headers=admin, timeout=10))["settings"]
    assert {s["key"]: s["value"] for s in settings}["moog_rate_period"] == 1.0

    for path, status in (("/api/v2/audit-logs?host=a%00b", 400), ("/api/v2/config-audit?changed_by=%00", 400),
                         ("/api/v2/audit-logs?page=%C2%B2", 400), ("/api/v2/audit-logs?rule_id=99999999999999999999", 400),
                         ("/api/v2/dead-letters?page=18446744073709551616", 400), (f"/api/v2/rules/{2**64}", 404),
                         (f"/api/v2/rules/{2**40}", 404),
                         ("/api/v2/teams/a%00b", 400)):
        response = requests.get(url + path, headers=admin, timeout=10)
        assert response.status_code == status, (path, response.text)
        assert strict(response)["error"]

    lines = [json.dumps({**EVENT, "message": f"a{separator}b"}, ensure_ascii=False) for separator in "\u2028\u2029\u0085"]
    lines.append(json.dumps(EVENT)[:-1] + ', "load": 1e400}')
    response = requests.post(url + "/api/v2/ingest", data="\n".join(lines).encode(), timeout=10,
                             headers={**sender, "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200 and strict(response)["accepted"] == 4 and response.json()["rejected"] == []
    queued = redis.lrange(redis_keys.INGEST_BUFFER, 0, -1)
    if not queued:  # the server's flusher may already have cut them into a batch
        pending = redis.zrange(redis_keys.BATCHES_PENDING, 0, -1)
        queued = [item for batch in pending for item in redis.lrange(redis_keys.batch(batch), 0, -1)]
    events = [json.loads(item, parse_constant=lambda name: pytest.fail(name)) for item in queued]
    assert sorted(e["message"] for e in events) == sorted(["a\u2028b", "a\u2029b", "a\u0085b", "link down"])
    assert [e["load"] for e in events if "load" in e] == ["1e400"]
