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
