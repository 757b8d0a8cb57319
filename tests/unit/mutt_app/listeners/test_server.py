"""`mutt listen`'s sockets against the real Redis: what is read is queued through Ingest, senders
from no source are refused, a full backlog stops TCP reading and drops (and counts) UDP."""

import asyncio
import json
import select
import socket
import threading
import time

import pytest

from mutt_app.ingest.accept import Ingest
from mutt_app.listeners import server
from mutt_app.listeners.sources import Sources
from mutt_app.operations import status
from mutt_app.storage import redis_keys
from tests.unit.mutt_app.listeners.test_traps import V2C_INFORM, V2C_LINK_DOWN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Running:
    """``server.serve`` in a thread of its own, stopped like SIGTERM stops it."""

    def __init__(self, redis, sources="local=127.0.0.0/8", pending_limit=1000, drain_seconds=5.0, tls=None):
        self.port, self.trap_port, self.tls_port, self.tls = free_port(), free_port(), free_port(), tls
        self.dispatched = []
        self.ingest = Ingest(redis, self.dispatched.append)
        self.loop = asyncio.new_event_loop()
        self.stop_event = None
        self.lost = None
        self.ready = threading.Event()
        self.sources = Sources.parse(sources)
        self.pending_limit, self.drain_seconds = pending_limit, drain_seconds
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def main():
            self.stop_event = asyncio.Event()
            ports = server.Ports("127.0.0.1", self.port, self.trap_port, frozenset({"public"}),
                                 self.tls_port if self.tls else 0, self.tls)
            return await server.serve(self.ingest, ports, self.sources,
                                      pending_limit=self.pending_limit, drain_seconds=self.drain_seconds,
                                      ready=lambda _lines: self.ready.set(), stop=self.stop_event)

        self.lost = self.loop.run_until_complete(main())

    def stop(self):
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(15)
        assert not self.thread.is_alive()
        return self.lost


def queued(redis) -> list[dict]:
    """Every event queued: still buffered, or already cut into a batch."""
    documents = redis.lrange(redis_keys.INGEST_BUFFER, 0, -1)
    for key in redis.keys(redis_keys.batch("*")):
        documents += redis.lrange(key, 0, -1)
    return [json.loads(document) for document in documents]


def queued_count(redis) -> int:
    """How many events ``queued`` would return, without reading them (cheap enough to poll)."""
    return redis.llen(redis_keys.INGEST_BUFFER) + sum(redis.llen(key) for key in redis.keys(redis_keys.batch("*")))


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def send_udp(port, lines):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for line in lines:
            sock.sendto(line, ("127.0.0.1", port))


def test_udp_and_tcp_messages_are_queued_as_events_of_their_source_and_the_invalid_become_rejected(redis, sqlite_url):
    running = Running(redis)
    try:
        send_udp(running.port, [b"<11>Jan 15 10:23:45 host1 app: over udp", b"not syslog"])
        with socket.create_connection(("127.0.0.1", running.port)) as tcp:
            tcp.sendall(b"<13>1 2026-01-15T10:23:45Z host2 app - - - over tcp\n<14>Jan 15 10:23:45 host3 x: y")
        assert wait_for(lambda: len(queued(redis)) == 3)
    finally:
        assert running.stop() == 0
    events = {event["hostname"]: event for event in queued(redis)}
    assert set(events) == {"host1", "host2", "host3"}
    assert events["host1"]["_key"] == "local" and events["host1"]["_source"] == "syslog"
    assert events["host1"]["syslog_severity"] == 3 and events["host1"]["source_ip"] == "127.0.0.1"
    assert events["host2"]["message"] == "over tcp"
    rejected = [json.loads(item) for item in redis.lrange(redis_keys.INGEST_REJECTED, 0, -1)]
    assert [item["payload"]["raw"] for item in rejected] == ["not syslog"]
    assert "no <PRI>" in rejected[0]["error"]
    assert status.listeners(redis) == {"syslog-udp": {"received": 2, "dropped": 0, "denied": 0},
                                           "syslog-tcp": {"received": 2, "dropped": 0, "denied": 0}}


def test_senders_in_no_source_are_denied_and_counted(redis, sqlite_url):
    running = Running(redis, sources="lan=10.0.0.0/8")
    try:
        send_udp(running.port, [b"<13>Jan 15 10:23:45 h a: m"] * 3)
        with socket.create_connection(("127.0.0.1", running.port)) as tcp:
            tcp.settimeout(10)
            try:  # refused: closed at once (a reset, when what we sent reached it first)
                tcp.sendall(b"<13>Jan 15 10:23:45 h a: m\n")
                assert tcp.recv(10) == b""
            except (ConnectionResetError, BrokenPipeError):
                pass
        assert wait_for(lambda: status.listeners(redis).get("syslog-udp", {}).get("denied") == 3)
    finally:
        running.stop()
    assert queued(redis) == []
    assert status.listeners(redis)["syslog-tcp"]["denied"] == 1


def test_a_full_backlog_drops_and_counts_udp_and_pauses_tcp_without_loss(redis, sqlite_url):
    redis.set(redis_keys.INGEST_BACKLOG, 10**9)  # far over max_ingest_queue_size: nothing is queued
    running = Running(redis, pending_limit=100)
    sender = None
    try:
        send_udp(running.port, [b"<13>Jan 15 10:23:45 udp a: %d" % i for i in range(300)])
        assert wait_for(lambda: status.listeners(redis).get("syslog-udp", {}).get("received") == 300)
        counts = status.listeners(redis)["syslog-udp"]
        assert counts["dropped"] == 200  # exactly what did not fit
        sender = socket.create_connection(("127.0.0.1", running.port))
        sender.setblocking(False)
        lines, unsent = 0, b""
        while True:  # send until the listener has stopped reading for a second and the buffers are full
            if not unsent:
                unsent = b"".join(b"<13>Jan 15 10:23:45 tcp a: %d\n" % i for i in range(lines, lines + 1000))
                lines += 1000
            try:
                unsent = unsent[sender.send(unsent):]
            except BlockingIOError:
                if not select.select([], [sender], [], 1.0)[1]:
                    break
            assert lines < 5_000_000
        held = status.listeners(redis)["syslog-tcp"]["received"]
        time.sleep(0.5)
        assert status.listeners(redis)["syslog-tcp"]["received"] == held < lines  # not read meanwhile
        assert queued(redis) == []
        redis.set(redis_keys.INGEST_BACKLOG, 0)  # the alerter caught up
        sender.setblocking(True)
        sender.sendall(unsent)
        sender.close()
        assert wait_for(lambda: queued_count(redis) == 100 + lines, 120), (queued_count(redis), 100 + lines)
    finally:
        running.stop()
        if sender:
            sender.close()
    events = queued(redis)
    assert sorted(int(e["message"]) for e in events if e["hostname"] == "tcp") == list(range(lines))
    assert status.listeners(redis)["syslog-tcp"] == {"received": lines, "dropped": 0, "denied": 0}


def test_stopping_queues_what_was_read_and_gives_up_after_the_drain_time(redis, sqlite_url):
    redis.set(redis_keys.INGEST_BACKLOG, 10**9)
    running = Running(redis, drain_seconds=1.0)
    send_udp(running.port, [b"<13>Jan 15 10:23:45 h a: m"] * 5)
    assert wait_for(lambda: status.listeners(redis).get("syslog-udp", {}).get("received") == 5)
    started = time.monotonic()
    assert running.stop() == 5
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("octets", [True, False])
def test_stopping_queues_everything_read_and_cuts_the_last_batch(redis, sqlite_url, octets):
    running = Running(redis)
    with socket.create_connection(("127.0.0.1", running.port)) as tcp:
        for i in range(50):
            line = b"<13>Jan 15 10:23:45 h a: %d" % i
            tcp.sendall(b"%d %s" % (len(line), line) if octets else line + b"\n")
    assert wait_for(lambda: status.listeners(redis).get("syslog-tcp", {}).get("received") == 50)
    assert running.stop() == 0
    assert redis.llen(redis_keys.INGEST_BUFFER) == 0  # cut into a batch and dispatched on the way out
    assert len(running.dispatched) >= 1
    assert len(queued(redis)) == 50


def test_traps_are_queued_a_wrong_community_is_denied_and_an_inform_is_answered_only_once_queued(redis, sqlite_url):
    redis.set(redis_keys.INGEST_BACKLOG, 10**9)  # the backlog is full: nothing can be queued yet
    running = Running(redis)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as agent:
            agent.settimeout(1.5)
            agent.sendto(V2C_INFORM, ("127.0.0.1", running.trap_port))
            with pytest.raises(TimeoutError):
                agent.recv(1000)  # not acknowledged while it is not queued
            redis.set(redis_keys.INGEST_BACKLOG, 0)
            agent.settimeout(10)
            answer = agent.recv(1000)
            assert answer[:2] == b"\x30\x56" and b"\xa2" in answer  # a Response-PDU
            assert [event["trap_oid"] for event in queued(redis)] == ["1.3.6.1.6.3.1.1.5.4"]
            agent.sendto(V2C_LINK_DOWN, ("127.0.0.1", running.trap_port))
            agent.sendto(V2C_LINK_DOWN.replace(b"public", b"secret"), ("127.0.0.1", running.trap_port))
        assert wait_for(lambda: len(queued(redis)) == 2)
        assert wait_for(lambda: status.listeners(redis).get("snmp-trap") == {"received": 3, "dropped": 0, "denied": 1})
    finally:
        running.stop()
    trap = [event for event in queued(redis) if event["trap_oid"] == "1.3.6.1.6.3.1.1.5.3"][0]
    assert trap["hostname"] == "core-rtr-1" and trap["_source"] == "snmp_trap" and trap["_key"] == "local"


def test_syslog_over_tls_octet_counted_as_rfc_5425_sends_it(redis, sqlite_url, tmp_path):
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    running = Running(redis, tls=context)
    try:
        client = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", running.tls_port)) as raw, \
                client.wrap_socket(raw, server_hostname="localhost") as tls:
            for i in range(20):
                line = b"<13>1 2026-01-15T10:23:45Z tls-host app - - - over tls %d" % i
                tls.sendall(b"%d %s" % (len(line), line))
            # held open until read: closing a socket with unread data (TLS 1.3 session tickets) sends
            # a TCP reset, which may discard what the server had not read yet
            assert wait_for(lambda: len(queued(redis)) == 20)
        assert wait_for(lambda: status.listeners(redis).get("syslog-tls", {}).get("received") == 20)
    finally:
        running.stop()
    assert sorted(int(event["message"].rsplit(" ", 1)[1]) for event in queued(redis)) == list(range(20))
