"""Scripts on a server a failover made a replica: ReadOnlyError, and the next call connects anew."""

from __future__ import annotations

import json

import pytest
import redis

from mutt_app.core import lua
from mutt_app.storage import redis_client
from tests.support.sentinel import SentinelSet, sentinel_set  # noqa: F401 - the fixture


def test_a_script_on_a_connection_kept_to_a_replica_raises_read_only_and_the_next_call_connects_anew(
        sentinel_set: SentinelSet):  # noqa: F811 - the fixture imported above
    primary = sentinel_set.client(sentinel_set.primary_port)
    primary.rpush("mutt:test:rejected", json.dumps({"id": "a"}))
    assert primary.wait(1, 5000) == 1
    kept = redis_client.for_this_thread(redis.Redis(port=sentinel_set.replica_port))  # one connection, kept open
    trim = lua.script(kept, "mutt_app.ingest:trim_stored")
    with pytest.raises(redis.ReadOnlyError, match="READONLY"):
        trim(keys=["mutt:test:rejected"], args=["a"])
    assert not kept.connection.is_connected, "the connection to the replica is dropped"

    sentinel_set.client(sentinel_set.replica_port).replicaof("NO", "ONE")  # now a primary, as after a failover
    assert trim(keys=["mutt:test:rejected"], args=["a"]) == 1


def _calls(client: redis.Redis, name: str) -> int:
    return int(client.info("commandstats").get(f"cmdstat_{name}", {}).get("calls", 0))


def test_scripts_run_together_in_order_in_one_round_trip_and_are_loaded_again_after_a_restart(redis):
    take = lua.script(redis, "mutt_app.forwarding:send_slots")
    calls = [lua.Call(take, ["mutt:test:slots", "mutt:test:slots:seq"], ["take", 3, 60_000, 60_000, 2]) for _ in range(2)]
    redis.script_load(lua.source("mutt_app.forwarding:send_slots"))  # as by any earlier call
    script_commands = _calls(redis, "script")

    first, second = lua.run_together(redis, calls)
    assert first[0] == 1 and len(first) == 3, "the first call took two slots of three"
    assert second[0] == 1 and len(second) == 2, "then the second found one left: they ran in order"
    assert _calls(redis, "script") == script_commands, "no SCRIPT EXISTS round trip before the pipeline"

    redis.delete("mutt:test:slots")
    redis.script_flush()  # what a restarted server knows of scripts
    first, second = lua.run_together(redis, calls)
    assert (len(first), len(second)) == (3, 2)


def test_scripts_run_together_on_a_replica_raise_read_only_and_drop_the_connections(
        sentinel_set: SentinelSet):  # noqa: F811 - the fixture imported above
    primary = sentinel_set.client(sentinel_set.primary_port)
    primary.rpush("mutt:test:rejected", json.dumps({"id": "a"}))
    assert primary.wait(1, 5000) == 1
    replica = redis.Redis(port=sentinel_set.replica_port)
    trim = lua.script(replica, "mutt_app.ingest:trim_stored")
    with pytest.raises(redis.ReadOnlyError, match="READONLY"):
        lua.run_together(replica, [lua.Call(trim, ["mutt:test:rejected"], ["a"])] * 2)
    assert not any(connection.is_connected for connection in replica.connection_pool._available_connections)
