"""`mutt listen` with a worker behind it, for the tests that send to it with real clients."""

from __future__ import annotations

import os

import pytest

from mutt_app.rules import rule_store
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.tools.moog_standin import MoogStandin
from tests.support.processes import Process, free_port, mutt, mutt_env, start_worker, wait_log

MARK = "LISTENER-TEST"


@pytest.fixture
def listening(redis, pg_url, tmp_path):
    """`mutt listen` on a free port, a worker on every queue, the Moogsoft stand-in, and a rule that
    matches every syslog line the tests send (so that each is audited, with the event as it was stored)."""
    with session_scope() as session:
        rule_store.create_rule(session, {"name": "listener test", "match_string": MARK, "match_type": "contains",
                                       "priority": 1, "prod_handling": "Page_only", "dev_handling": "Ignore",
                                       "team_assignment": "NetOps", "moog_severity": 4}, actor="test")
    standin = MoogStandin().start()
    port, trap_port = free_port(), free_port()
    env = mutt_env(os.environ["REDIS_URL"], pg_url, tmp_path / "home", MOOG_WEBHOOK_URL=standin.url,
                   LISTEN_SOURCES="local=127.0.0.0/8", SYSLOG_PORT=str(port), TRAP_PORT=str(trap_port),
                   TRAP_COMMUNITIES="public,monitoring")
    processes = []
    try:
        processes.append(start_worker(env, tmp_path))
        listener = Process("listen", mutt("listen"), env, tmp_path)
        processes.append(listener)
        wait_log(listener, f"syslog  udp and tcp 127.0.0.1:{port}")
        wait_log(listener, f"snmp traps  udp 127.0.0.1:{trap_port}")
        yield {"port": port, "trap_port": trap_port, "redis": redis, "listener": listener, "tmp": tmp_path}
    finally:
        for process in processes:
            process.stop()
        standin.stop()


def outcomes(redis) -> dict[str, int]:
    stats = redis.hgetall(redis_keys.STATS)
    return {name: int(stats.get(name, 0)) for name in ("accepted", "rejected", "audited", "unhandled", "dead_lettered")}


def settled(redis, expected: int):
    """Every message ended in one place: audited, unhandled, dead-lettered after it was accepted, or
    rejected at ingest (and stored as a dead letter)."""
    counts = outcomes(redis)
    finished = counts["audited"] + counts["unhandled"] + counts["dead_lettered"] + counts["rejected"]
    return counts if finished >= expected else None
