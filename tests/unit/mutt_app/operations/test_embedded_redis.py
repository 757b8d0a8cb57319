"""The redis-server `mutt up` runs for itself, started for real."""

import os
import signal

import redis

from mutt_app.operations import embedded_redis
from tests.support.processes import wait_until


def test_the_embedded_redis_keeps_its_append_only_file_private(tmp_path):
    home = tmp_path / "home"
    before = os.umask(0o022)
    try:
        process = embedded_redis.start(home)
    finally:
        os.umask(before)
    try:
        client = redis.Redis(unix_socket_path=str(home / "redis.sock"))
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
