"""Accepting events: queue the valid ones, dead-letter the invalid ones, cut batches.

``Ingest.submit`` is the domain function behind the ingest endpoints. Its promise: when it
returns QUEUED, the events are in Redis (one Lua call checks the key's rate limit and the
backlog limit, appends and counts), so answering 200 is a promise MUTT keeps. The same call
appends the items that failed validation to a list in Redis, which ``store_rejected`` (the task
``mutt.store_rejected``) turns into dead letters: an ingest request touches only Redis, never the
database, so a slow or stopped database holds up no web thread. Batches are cut
from the buffer by the request that fills one (``ingest_batch_size``), and by a flusher thread in
every web process that cuts once the oldest buffered event has waited ``ingest_flush_interval_ms``
(the age is kept in Redis, so the web processes share one timer and a batch holds what came in one
interval, however many of them there are); each batch is handed to
``dispatch`` (the web layer passes ``tasks.alerter.enqueue_batch``). A batch whose dispatch fails
is still leased in Redis, so the janitor enqueues it when the lease runs out: nothing is lost.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mutt_app import config, dynconfig
from mutt_app.core import ids, lua
from mutt_app.dead_letters import dlq
from mutt_app.ingest import events
from mutt_app.ingest.buffer import QUEUED, UNREPLICATED, EventBuffer
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

BACKLOG_RETRY_AFTER = 5       # seconds a sender waits when the backlog is full or Redis is away
STORE_REJECTED_AT_ONCE = 500  # rejected items written as dead letters in one transaction


@dataclass(frozen=True)
class Rejected:
    index: int
    error: str
    payload: Any = field(repr=False, default=None)
    too_large: bool = False  # over max_event_bytes: a single event is a 413, not a 400


@dataclass(frozen=True)
class Result:
    status: str                        # buffer.QUEUED / RATE_LIMITED / BACKLOG_FULL / UNREPLICATED
    accepted: int = 0
    rejected: tuple[Rejected, ...] = ()
    backlog: int = 0
    queue_limit: int = 0
    retry_after: float = 0.0


class Ingest:
    """One per process: the event buffer, the batch cutter and the flusher thread."""

    def __init__(self, redis_client: Redis, dispatch: Callable[[str], None],
                 store_rejected: Callable[[], None] = lambda: None) -> None:
        self.buffer = EventBuffer(redis_client)
        self.dispatch = dispatch
        self.store_rejected = store_rejected  # asks for the rejected items to be stored (the web: a task)
        self._flusher_pid: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def read(self, items: list[Any], stamp: events.Stamp) -> tuple[list[str], list[Rejected]]:
        """Each parsed item as its canonical event's JSON document, or Rejected with the reason
        (not an event, or over the ``max_event_bytes`` runtime setting)."""
        max_bytes = self.settings().get("max_event_bytes")
        documents, rejected = [], []
        for index, item in enumerate(items):
            try:
                documents.append(events.encode(events.normalise(item, stamp), max_bytes))
            except events.EventError as failure:
                raw = item.raw if isinstance(item, events.Invalid) else item
                rejected.append(Rejected(index, str(failure), raw, isinstance(failure, events.EventTooLarge)))
        return documents, rejected

    def submit(self, documents: list[str], rejected: list[Rejected], *, key_id: str, key_name: str,
               correlation_id: str) -> Result:
        """Queue ``documents`` (canonical events as JSON, from ``read``) all or none, and with them
        ``rejected`` items to be stored as dead letters (reason invalid_event), in one step in Redis.

        Nothing is kept for dead-lettering unless the valid events were queued (a 429/503 is
        retried by the sender as a whole). Redis errors propagate: the caller answers 503.
        """
        settings = self.settings()
        limit = settings.get("max_ingest_queue_size")
        context = f" (key {key_name}, correlation id {correlation_id})"
        result = self.buffer.accept(
            documents,
            key_id=key_id,
            rate_limit=settings.get("ingest_rate_limit"),
            rate_window=settings.get("ingest_rate_window"),
            max_backlog=limit,
            rejected=[json.dumps({"id": ids.new_id(), "payload": item.payload,
                                  "error": f"item {item.index}: {item.error}{context}"}) for item in rejected],
        )
        if result.status != QUEUED:
            return Result(result.status, backlog=result.backlog, queue_limit=limit,
                          retry_after=result.retry_after or BACKLOG_RETRY_AFTER)
        replicas = config.get().redis_min_replicas_ack
        if replicas and not self.buffer.replicated(replicas, config.get().redis_replica_ack_timeout_ms):
            log.warning("ingest: fewer than %d Redis replica(s) confirmed %d queued event(s)%s; answering 503",
                        replicas, len(documents), context)
            return Result(UNREPLICATED, backlog=result.backlog, queue_limit=limit, retry_after=BACKLOG_RETRY_AFTER)
        if documents:
            self._cut_filled(result.buffered, len(documents))
        if rejected and result.rejected_waiting == len(rejected):  # the list was empty: nobody is storing it
            try:
                self.store_rejected()
            except Exception:  # noqa: BLE001 - beat asks again every JANITOR_INTERVAL; say so and go on
                log.warning("could not ask for %d rejected item(s) to be stored; beat will", len(rejected),
                            exc_info=True)
        return Result(QUEUED, accepted=len(documents), rejected=tuple(rejected), backlog=result.backlog,
                      queue_limit=limit)

    def settings(self) -> dynconfig.RuntimeConfig:
        """The runtime settings, as kept in this pipeline's Redis (looked up without going through
        the process-wide client: ingest reads them several times a request)."""
        return dynconfig.runtime(self.buffer.redis)

    def _cut_filled(self, buffered: int, added: int) -> None:
        """Cut one batch for every ``ingest_batch_size`` boundary this request's events crossed."""
        size = self.settings().get("ingest_batch_size")
        for _ in range(buffered // size - (buffered - added) // size):
            if not self._cut_and_dispatch(size)[0]:
                break

    def _cut_and_dispatch(self, size: int, waited_ms: int = 0) -> tuple[int, float]:
        """Cut one batch (with ``waited_ms``: if due) and enqueue it: (events cut, seconds until
        the rest of the buffer is due, 0 when it is empty)."""
        cut, due_in = self.buffer.cut_when_due(size, self.settings().get("janitor_stuck_after_seconds"), waited_ms=waited_ms)
        if cut is None:
            return 0, due_in
        batch_id, count = cut
        try:
            self.dispatch(batch_id)
        except Exception:  # noqa: BLE001 - the lease brings it back; say so and go on
            log.warning("could not enqueue batch %s (%d events); the janitor will enqueue it when its lease ends",
                        batch_id, count, exc_info=True)
        return count, due_in

    def flush(self) -> int:
        """Cut and dispatch everything waiting in the buffer; returns the number of events."""
        return self._flush(waited_ms=0)[0]

    def _flush(self, waited_ms: int) -> tuple[int, float]:
        """Cut and dispatch the buffer if its oldest event has waited ``waited_ms``: (events, seconds
        until the buffer is due again, 0 when it is empty)."""
        size = self.settings().get("ingest_batch_size")
        total = 0
        while True:
            count, due_in = self._cut_and_dispatch(size, waited_ms if total == 0 else 0)
            total += count
            if count < size:
                return total, due_in

    def ensure_flusher(self) -> None:
        """Start this process's flusher thread once (after a fork too: threads do not survive one)."""
        if self._flusher_pid == os.getpid():
            return
        with self._lock:
            if self._flusher_pid == os.getpid():
                return
            self._stop = threading.Event()
            threading.Thread(target=self._flush_forever, args=(self._stop,), name="mutt-ingest-flusher",
                             daemon=True).start()
            self._flusher_pid = os.getpid()

    def stop_flusher(self) -> None:
        with self._lock:
            self._stop.set()
            self._flusher_pid = None

    def _flush_forever(self, stop: threading.Event) -> None:
        failing = False
        while not stop.is_set():
            try:
                interval_ms = self.settings().get("ingest_flush_interval_ms")
                _, due_in = self._flush(waited_ms=interval_ms)
                # an empty buffer is looked at four times an interval: an event waits at most 1.25 of one
                if stop.wait(min(due_in, interval_ms / 1000.0) or interval_ms / 4000.0):
                    return
                failing = False
            except Exception:  # noqa: BLE001 - keep flushing; Redis comes back
                if not failing:
                    log.warning("ingest flusher: cutting batches failed; retrying every second", exc_info=True)
                failing = True
                stop.wait(1.0)


def store_rejected(redis_client: Redis, scope: Callable[[], AbstractContextManager[Session]] = session_scope,
                   at_once: int = STORE_REJECTED_AT_ONCE) -> int:
    """Store the rejected items waiting in Redis as dead letters (kind event, reason invalid_event),
    oldest first, ``at_once`` a transaction; returns how many were stored.

    An item leaves Redis only after its dead letter committed, and is written under the id it got
    at ingest, so a run that dies in between, or two runs at once, store it once.
    """
    trim = lua.script(redis_client, "mutt_app.ingest:trim_stored")
    stored = 0
    while True:
        items = [json.loads(raw) for raw in redis_client.lrange(redis_keys.INGEST_REJECTED, 0, at_once - 1)]
        if not items:
            return stored
        with scope() as session:
            dlq.record_many(session, dlq.EVENT, dlq.INVALID_EVENT,
                            [(item["id"], item["payload"], item["error"]) for item in items])
        trim(keys=[redis_keys.INGEST_REJECTED], args=[item["id"] for item in items])
        stored += len(items)


def rejected_waiting(redis_client: Redis) -> int:
    """Rejected items not yet stored as dead letters."""
    return int(redis_client.llen(redis_keys.INGEST_REJECTED))
