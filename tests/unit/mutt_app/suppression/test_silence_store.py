"""Stored silences on a real database and Redis: what the alerter loads, the cache's throttle,
and changes an expired silence refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.suppression import silence_store
from mutt_app.suppression.silences import SilenceError, SilenceSet

pytestmark = pytest.mark.parametrize("api", ["sqlite", "postgresql"], indirect=True)


def create(session, host: str, hours: float = 2, **more):
    now = datetime.now(UTC)
    return silence_store.create(session, {"matchers": [{"field": "hostname", "op": "=", "value": host}],
                                          "comment": f"work on {host}", "starts_at": now.isoformat(),
                                          "ends_at": (now + timedelta(hours=hours)).isoformat(), **more}, actor="test")


def test_the_alerter_loads_only_silences_that_are_not_over(api, redis):
    with session_scope() as session:
        kept = create(session, "r1").id
        gone = create(session, "r2").id
        silence_store.expire(session, gone, actor="test", reason="done")
    with session_scope() as session:
        loaded = silence_store.load(session)
        assert [s.id for s in loaded.silences] == [kept]
        assert silence_store.count_active(session) == 1
        with pytest.raises(SilenceError, match="is expired"):
            silence_store.update(session, gone, {"comment": "again"}, actor="test")
        assert silence_store.expire(session, gone, actor="test").expired_at is not None  # a second expiry: no change
    assert redis.get(redis_keys.SILENCES_VERSION) == "3"  # create, create, expire


def test_the_cache_looks_at_the_version_no_more_than_every_check_period(api, redis):
    loads = []

    def load(version):
        loads.append(version)
        return SilenceSet(version=version)

    cache = silence_store.SilenceCache(load, check_every=60)
    first = cache.get(redis)
    redis.incr(redis_keys.SILENCES_VERSION)
    assert cache.get(redis) is first and loads == [None]  # within the period: not even read
    moving = silence_store.SilenceCache(load, check_every=0)
    moving.get(redis)
    assert loads == [None, "1"]
