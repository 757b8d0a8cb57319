"""Clients: one per process (shared pool), and one per thread for calls made once per request."""

import threading
import time

from mutt_app.storage import redis_client


def in_thread(function):
    result = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join()
    return result[0]


def test_a_thread_keeps_its_own_connection_of_the_shared_pool(redis):
    own = redis_client.for_this_thread(redis)
    assert redis_client.for_this_thread(redis) is own
    assert own.connection_pool is redis.connection_pool and own.ping()
    other = in_thread(lambda: redis_client.for_this_thread(redis))
    assert other is not own


def test_a_thread_s_connection_goes_back_to_the_pool_when_the_thread_ends(redis):
    pool = redis.connection_pool
    in_use = len(pool._in_use_connections)

    def use():
        redis_client.for_this_thread(redis).ping()
        return len(pool._in_use_connections)

    assert in_thread(use) == in_use + 1
    assert len(pool._in_use_connections) == in_use


def test_a_connection_redis_closed_between_calls_is_made_again(redis):
    own = redis_client.for_this_thread(redis)
    own.set("mutt:test:own", "1")
    first = own.client_id()
    redis.client_kill_filter(_id=first)  # as a Redis restart would
    time.sleep(0.05)  # the close reaches this side
    again = redis_client.for_this_thread(redis)
    assert again.get("mutt:test:own") == "1" and again.client_id() != first
