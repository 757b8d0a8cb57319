"""Clients: one per process (shared pool), and one per thread for calls made once per request."""

import threading
import time

from mutt_app.storage import redis_client
from tests.support.processes import wait_until


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


def test_the_embedded_redis_keeps_its_append_only_file_private(tmp_path):
    import os
    import signal

    home = tmp_path / "home"
    before = os.umask(0o022)
    try:
        process = redis_client.start_embedded(home)
    finally:
        os.umask(before)
    try:
        client = redis_client.redis.Redis(unix_socket_path=str(home / "redis.sock"))
        client.set("mutt:test:private", "1")
        client.bgrewriteaof()

        def rewritten():
            persistence = client.info("persistence")
            return not (persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"])

        wait_until(rewritten, timeout=10, interval=0.02, message="the append-only file rewritten")
        written = [p for p in home.rglob("*") if "aof" in p.name or p.name == "appendonlydir"]
        assert written, sorted(home.iterdir())
        for path in written:
            assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path
        with open(f"/proc/{process.pid}/status") as status:
            assert "Umask:\t0077" in status.read()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
