"""`mutt listen`: the sockets (syslog over UDP, TCP and TLS, SNMP traps over UDP), and the hand-over of
what they read to ingest's accept path.

One asyncio loop reads every socket (ADR 0013); one submitter thread turns what was read into
items, then canonical events, and queues them with ``Ingest.read`` / ``Ingest.submit`` — the calls
HTTP ingest makes — a chunk at a time; an INFORM is answered once its event is queued. Between the two, the ``Pending`` messages: at most
``limit`` of them. While it is full (the backlog is full, the source's rate limit is hit, or Redis
is away, so the submitter holds its chunk and waits), TCP connections stop being read, so the
senders' own buffers fill and they slow down (flow control), and UDP datagrams are dropped and
counted. Nothing is dropped silently: every listener counts what it received, dropped (its own
and the kernel's socket-buffer drops) and denied (a sender in no source) in Redis, which
`mutt status`, /metrics and the dashboard read (``operations.status.listeners``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from redis import Redis
from redis.exceptions import RedisError

from mutt_app.core import ids
from mutt_app.ingest import events
from mutt_app.ingest.accept import Ingest, Rejected
from mutt_app.ingest.buffer import QUEUED
from mutt_app.listeners import framing, syslog, traps
from mutt_app.listeners.sources import Source, Sources
from mutt_app.storage import redis_keys

log = logging.getLogger(__name__)

SYSLOG_UDP = "syslog-udp"
SYSLOG_TCP = "syslog-tcp"
SYSLOG_TLS = "syslog-tls"
SNMP_TRAP = "snmp-trap"
COUNTERS = ("received", "dropped", "denied")  # read back by operations.status.listeners
SUBMIT_AT_ONCE = 2000        # messages handed to Ingest.submit in one call (one Redis round trip)
IDLE_WAIT = 0.005            # seconds the submitter sleeps when nothing is pending
STATS_EVERY = 1.0            # seconds between two writes of the counters to Redis
UDP_RECEIVE_BUFFER = 8 * 1024 * 1024  # asked of the kernel; a burst waits there, not on the floor

# raw message, sender address, received -> an ingest item, traps.Answered (an INFORM) or traps.DENIED
Parse = Callable[[bytes, str, datetime], Any]


@dataclass(slots=True)
class Message:
    listener: str
    source: Source
    raw: bytes
    peer: str
    received: datetime
    reply_to: tuple[Any, ...] | None = None  # the sender's (address, port), for an INFORM's answer


@dataclass
class Counters:
    """What one listener saw; written to Redis as deltas, so several listener processes add up."""

    name: str
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))      # the loop's
    decoded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))     # the submitter's
    written: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    kernel_drops: Callable[[], int] | None = None

    def count(self, counter: str, by: int = 1) -> None:
        self.values[counter] += by

    def deltas(self) -> dict[str, int]:
        current = {counter: self.values[counter] + self.decoded[counter] for counter in COUNTERS}
        if self.kernel_drops is not None:
            current["dropped"] += self.kernel_drops()
        return {counter: current[counter] - self.written[counter] for counter in COUNTERS
                if current[counter] != self.written[counter]}

    def mark_written(self, deltas: dict[str, int]) -> None:
        for counter, delta in deltas.items():
            self.written[counter] += delta


def write_counters(redis_client: Redis, counters: list[Counters]) -> None:
    pipe = redis_client.pipeline(transaction=False)
    written = []
    for listener in counters:
        deltas = listener.deltas()
        for counter, delta in deltas.items():
            pipe.hincrby(redis_keys.LISTENER_STATS, f"{listener.name}:{counter}", delta)
        written.append((listener, deltas))
    pipe.execute()
    for listener, deltas in written:
        listener.mark_written(deltas)


class Pending:
    """Messages read and not yet queued, handed from the loop to the submitter thread."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.messages: deque[Message] = deque()
        self.in_flight = 0  # taken by the submitter, not yet queued: they still take room

    def full(self) -> bool:
        return len(self.messages) + self.in_flight >= self.limit

    def take(self, at_most: int) -> list[Message]:
        chunk: list[Message] = []
        while len(chunk) < at_most:
            try:
                chunk.append(self.messages.popleft())
            except IndexError:
                break
        self.in_flight = len(chunk)
        return chunk

    def __len__(self) -> int:
        return len(self.messages) + self.in_flight


class Submitter:
    """The thread that queues what the loop read, through ``Ingest``, and keeps the counters."""

    def __init__(self, ingest: Ingest, parsers: dict[str, tuple[str, Parse]], pending: Pending,
                 counters: list[Counters], on_room: Callable[[], None],
                 answer: Callable[[str, bytes, tuple[Any, ...] | None], None] = lambda _listener, _data, _to: None) -> None:
        self.ingest = ingest
        self.parsers = parsers  # listener -> (the events' _source, the parse function)
        self.pending = pending
        self.counters = counters
        self.by_name = {listener.name: listener for listener in counters}
        self.on_room = on_room  # called (from this thread) after a chunk was queued
        self.answer = answer    # sends an INFORM's answer (from the loop)
        self.stopping = threading.Event()  # finish what is pending, then end
        self.give_up_at = float("inf")    # monotonic time after which a chunk that cannot be queued is lost
        self.lost = 0
        self._written_at = 0.0
        self._thread = threading.Thread(target=self._run, name="mutt-listener-submitter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def drain(self, seconds: float) -> int:
        """Queue everything pending (at most ``seconds``); returns how many messages were lost."""
        self.give_up_at = time.monotonic() + seconds
        self.stopping.set()
        self._thread.join(seconds + 5)
        return self.lost + len(self.pending)

    def _run(self) -> None:
        while True:
            chunk = self.pending.take(SUBMIT_AT_ONCE)
            if chunk:
                self._queue(chunk)
                self.pending.in_flight = 0
                self.on_room()
            elif self.stopping.is_set():
                self._write_counters()
                return
            else:
                time.sleep(IDLE_WAIT)
            self._write_counters(every=STATS_EVERY)

    def _write_counters(self, every: float = 0.0) -> None:
        if every and time.monotonic() - self._written_at < every:
            return
        self._written_at = time.monotonic()
        try:
            write_counters(self.ingest.buffer.redis, self.counters)
        except RedisError as error:
            log.warning("listener: could not write the counters to Redis (%s); will again", type(error).__name__)

    def _queue(self, chunk: list[Message]) -> None:
        groups: dict[tuple[str, str], list[Message]] = {}
        for message in chunk:
            groups.setdefault((message.listener, message.source.name), []).append(message)
        for group in groups.values():
            first = group[0]
            kind, parse = self.parsers[first.listener]
            correlation_id = ids.new_id()
            items, answers = [], []
            for message in group:
                item = self._parse(parse, message)
                if item is traps.DENIED:
                    self.by_name[message.listener].decoded["denied"] += 1
                    continue
                if isinstance(item, traps.Answered):
                    answers.append((message, item.answer))
                    item = item.item
                items.append(item)
            if not items:
                continue
            stamp = events.Stamp(correlation_id, events.now_iso(), kind, first.source.name)
            documents, rejected = self.ingest.read(items, stamp)
            if self._submit(documents, rejected, first.source, correlation_id):
                for message, answer in answers:  # acknowledged only now that it is queued
                    self.answer(message.listener, answer, message.reply_to)

    @staticmethod
    def _parse(parse: Parse, message: Message) -> Any:
        try:
            return parse(message.raw, message.peer, message.received)
        except Exception as error:  # noqa: BLE001 - a parser bug must cost one message, kept as a dead letter
            log.exception("listener: parsing a message from %s failed", message.peer)
            text, _ = syslog.text_of(message.raw)
            return events.Invalid({"raw": text, "source_ip": message.peer}, f"could not be parsed ({type(error).__name__})")

    def _submit(self, documents: list[str], rejected: list[Rejected], source: Source, correlation_id: str) -> bool:
        """Queue one group, waiting as long as it takes (the backlog full, the rate limit hit, Redis
        away): meanwhile Pending fills and the loop pushes back on the senders. False: given up
        (stopping, and the drain time ran out)."""
        waited = False
        while True:
            try:
                result = self.ingest.submit(documents, rejected, key_id=source.rate_key, key_name=source.name,
                                            correlation_id=correlation_id)
                if result.status == QUEUED:
                    if waited:
                        log.info("listener: queueing again (source %s)", source.name)
                    return True
                wait, why = result.retry_after, result.status
            except RedisError as error:
                wait, why = 1.0, f"Redis unavailable ({type(error).__name__})"
            if not waited:
                log.warning("listener: cannot queue %d message(s) from source %s: %s; holding them, "
                            "reading less meanwhile", len(documents) + len(rejected), source.name, why)
                waited = True
            if time.monotonic() + wait > self.give_up_at:
                self.lost += len(documents) + len(rejected)
                log.error("listener: stopping: %d message(s) from source %s could not be queued (%s)",
                          len(documents) + len(rejected), source.name, why)
                return False
            time.sleep(min(wait, STATS_EVERY))
            self._write_counters(every=STATS_EVERY)  # the drops while it waits are the ones to see


# --- the sockets ---------------------------------------------------------------------------------

class Listener:
    """The shared state of one `mutt listen` process: sources, pending messages, counters."""

    def __init__(self, sources: Sources, pending: Pending) -> None:
        self.sources = sources
        self.pending = pending
        self.paused: set[asyncio.Transport] = set()
        self.connections: set[asyncio.Transport] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = False  # no connection is resumed any more

    def room(self) -> None:
        """From the submitter thread: there is room again, resume the connections paused for it.
        Always asks the loop (which owns ``paused``): a connection the loop pauses while this
        thread looks would otherwise wait for a next chunk that may never come."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._resume)

    def _resume(self) -> None:
        if self.pending.full() or self.stopping:
            return
        for transport in self.paused:
            if not transport.is_closing():
                transport.resume_reading()
        self.paused.clear()


class Datagrams(asyncio.DatagramProtocol):
    """Syslog over UDP, or SNMP traps: one message per datagram."""

    def __init__(self, listener: Listener, counters: Counters) -> None:
        self.listener = listener
        self.counters = counters

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        listener = self.listener
        source = listener.sources.of(addr[0])
        if source is None:
            self.counters.count("denied")
            return
        self.counters.count("received")
        if listener.pending.full():
            self.counters.count("dropped")
            return
        listener.pending.messages.append(Message(self.counters.name, source, data, addr[0], datetime.now(UTC), addr))


class SyslogStream(asyncio.Protocol):
    def __init__(self, listener: Listener, counters: Counters) -> None:
        self.listener = listener
        self.counters = counters
        self.framer = framing.Framer()
        self.transport: Any = None  # the asyncio.Transport, from connection_made on
        self.source: Source | None = None
        self.peer = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = stream = cast(asyncio.Transport, transport)  # a stream server's are Transports
        self.peer = stream.get_extra_info("peername")[0]
        self.source = self.listener.sources.of(self.peer)
        if self.source is None:
            self.counters.count("denied")
            stream.abort()
            return
        self.listener.connections.add(stream)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.framer.feed(data)
        except framing.FramingError as error:
            log.warning("listener: closing the syslog connection from %s: %s", self.peer, error)
            self.transport.close()
            frames = []
        self._take(frames)

    def eof_received(self) -> bool:
        self._take(self.framer.close())
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.connections.discard(self.transport)
        self.listener.paused.discard(self.transport)

    def _take(self, frames: list[bytes]) -> None:
        if not frames or self.source is None:
            return
        now = datetime.now(UTC)
        append = self.listener.pending.messages.append
        for frame in frames:
            append(Message(self.counters.name, self.source, frame, self.peer, now))
        self.counters.count("received", len(frames))
        if self.listener.pending.full() and not self.transport.is_closing():
            self.transport.pause_reading()
            self.listener.paused.add(self.transport)


def kernel_udp_drops(sock: socket.socket) -> Callable[[], int]:
    """A function giving the datagrams the kernel dropped for ``sock`` (its receive buffer was
    full), read from /proc/net/udp{,6}; 0 where there is no such file."""
    inode = str(os.fstat(sock.fileno()).st_ino)
    files = ("/proc/net/udp6", "/proc/net/udp") if sock.family == socket.AF_INET6 else ("/proc/net/udp",)

    def drops() -> int:
        for path in files:
            try:
                with open(path) as table:
                    for line in table:
                        fields = line.split()
                        if len(fields) > 12 and fields[9] == inode:
                            return int(fields[12])
            except OSError:
                return 0
        return 0

    return drops


def udp_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


@dataclass
class Ports:
    host: str
    syslog: int     # UDP and TCP; 0: none
    traps: int = 0  # UDP; 0: none
    communities: frozenset[str] = frozenset({"public"})
    tls: int = 0    # syslog over TLS (RFC 5425); 0: none
    tls_context: ssl.SSLContext | None = None


async def serve(ingest: Ingest, ports: Ports, sources: Sources, *, pending_limit: int, drain_seconds: float,
                ready: Callable[[list[str]], None] = lambda _lines: None, stop: asyncio.Event | None = None) -> int:
    """Listen until ``stop`` is set (by default: until SIGTERM or SIGINT), then stop reading, queue
    what was read and flush the ingest buffer. Returns how many messages read could not be queued
    before ``drain_seconds`` ran out."""
    loop = asyncio.get_running_loop()
    pending = Pending(pending_limit)
    listener = Listener(sources, pending)
    listener.loop = loop
    counters = {name: Counters(name) for name in (SYSLOG_UDP, SYSLOG_TCP, SYSLOG_TLS, SNMP_TRAP)}
    transports: dict[str, asyncio.DatagramTransport] = {}

    def answer(name: str, data: bytes, to: tuple[Any, ...] | None) -> None:
        if to is not None:
            loop.call_soon_threadsafe(transports[name].sendto, data, to)

    trap_parse = functools.partial(traps.parse, communities=ports.communities)
    submitter = Submitter(ingest, {SYSLOG_UDP: ("syslog", syslog.parse), SYSLOG_TCP: ("syslog", syslog.parse),
                                   SYSLOG_TLS: ("syslog", syslog.parse), SNMP_TRAP: ("snmp_trap", trap_parse)},
                          pending, list(counters.values()), listener.room, answer)
    closers: list[Callable[[], Any]] = []
    lines = []

    async def datagrams(name: str, port: int) -> None:
        sock = udp_socket(ports.host, port)
        drops = counters[name].kernel_drops = kernel_udp_drops(sock)
        counters[name].written["dropped"] = drops()  # drops before this process are not its own
        transport, _ = await loop.create_datagram_endpoint(lambda: Datagrams(listener, counters[name]), sock=sock)
        transports[name] = transport
        closers.append(transport.close)

    if ports.syslog:
        await datagrams(SYSLOG_UDP, ports.syslog)
        stream_server = await loop.create_server(lambda: SyslogStream(listener, counters[SYSLOG_TCP]), ports.host,
                                                 ports.syslog, reuse_address=True)
        closers.append(stream_server.close)
        lines.append(f"syslog  udp and tcp {ports.host}:{ports.syslog}")
    if ports.tls and ports.tls_context is not None:
        tls_server = await loop.create_server(lambda: SyslogStream(listener, counters[SYSLOG_TLS]), ports.host,
                                              ports.tls, reuse_address=True, ssl=ports.tls_context)
        closers.append(tls_server.close)
        lines.append(f"syslog  tls {ports.host}:{ports.tls}")
    if ports.traps:
        await datagrams(SNMP_TRAP, ports.traps)
        lines.append(f"snmp traps  udp {ports.host}:{ports.traps} (v1, v2c, INFORM)")
    submitter.start()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    ready(lines)
    await stop.wait()
    log.info("listener: stopping; queueing the %d message(s) read", len(pending))
    listener.stopping = True
    for close in closers:
        close()
    for transport in list(listener.connections):
        if not transport.is_closing():
            transport.pause_reading()
    await asyncio.sleep(0)  # let the transports deliver what they had already read
    lost = await loop.run_in_executor(None, submitter.drain, drain_seconds)
    for transport in list(listener.connections):
        transport.abort()
    try:
        ingest.flush()
    except RedisError as error:
        log.warning("listener: could not cut the last batch (%s); the web's flusher will", type(error).__name__)
    return lost
