"""The issue's test: a real worker process processes a stream of events; an operator changes
moog_rate_limit and alerter_queue_shed_threshold; the new behaviour shows within a second, the
worker is never restarted, and every event and alert is accounted for at the end."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import func, select

from mutt_app import dynconfig
from mutt_app.celery_app import app
from mutt_app.handoff import process_batch
from mutt_app.ingest.buffer import EventBuffer
from mutt_app.rules import rule_store
from mutt_app.storage import db
from mutt_app.storage.models import Alert, DeadLetter, EventAudit
from tests.support.processes import Process, free_port, mutt, mutt_env, wait_log, wait_until

pytestmark = pytest.mark.integration

EVENTS_PER_BATCH, BATCH_EVERY = 2, 0.1      # a stream of 20 events/s, each raising one alert
# (each from its own host: events of one host and message within the dedup window are one alert)


class Stream:
    """Feeds batches of matching events to the alerter, as ingest would, until stopped."""

    def __init__(self, redis) -> None:
        self.buffer = EventBuffer(redis)
        self.fed: list[tuple[float, str]] = []   # (wall time, event id)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            events = []
            for _ in range(EVENTS_PER_BATCH):
                event_id = uuid.uuid4().hex
                now = datetime.now(UTC).isoformat()
                events.append({"_id": event_id, "_correlation_id": event_id, "_received_at": now, "_source": "test",
                               "_key": "test", "hostname": f"core-router-{len(self.fed):05d}", "timestamp": now,
                               "message": "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down"})
                self.fed.append((time.time(), event_id))
            self.buffer.accept([json.dumps(e) for e in events], key_id="test", rate_limit=0, rate_window=60,
                               max_backlog=10_000_000)
            batch = self.buffer.cut(EVENTS_PER_BATCH, lease_seconds=300)
            if batch:
                process_batch(batch[0])
            self._stop.wait(BATCH_EVERY)

    def start(self) -> Stream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def change(key, value):
    """What `mutt config set/unset` and PUT /api/v2/config do; returns the wall time it took effect in Redis."""
    with db.session_scope() as session:
        dynconfig.change(session, key, value, actor="test", reason="hot reload test")
    return time.time()


def most_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)), default=0)


def worker_stats() -> dict:
    (stats,) = (app.control.inspect(timeout=2).stats() or {None: None}).values()
    return stats


def scrape(port: int) -> dict[str, float]:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(mutt_\S+) (\S+)$", text, re.M)}


def test_rate_limit_and_shed_threshold_change_within_a_second_without_restart(redis, pg_url, standin, tmp_path):
    from tests.conftest import REDIS_URL

    with db.session_scope() as session:
        rule_store.create_rule(session, {"name": "link down", "match_string": "LINK-3-UPDOWN", "match_type": "contains",
                                       "prod_handling": "page_only", "dev_handling": "ignore",
                                       "team_assignment": "NETO"}, actor="test")
    change("moog_rate_limit", 100)
    metrics_port = free_port()
    env = mutt_env(REDIS_URL, pg_url, tmp_path / "home", MOOG_WEBHOOK_URL=standin.url, MOOG_API_KEY="moog-secret")
    worker = Process("worker", mutt("worker", "-Q", "alerts,moog", "-c", "2", "-n", f"hot-{uuid.uuid4().hex[:6]}@%h",
                                    "--metrics-port", str(metrics_port)), env, tmp_path)
    stream = None
    try:
        wait_log(worker, " ready.")
        before = worker_stats()
        stream = Stream(redis).start()
        wait_until(lambda: len(standin.delivered()) >= 20, timeout=30, message="alerts flowing to Moogsoft")

        # 1. lower the Moogsoft rate limit: from a second after the change, at most 5 sends a second
        limited_at = change("moog_rate_limit", 5)
        time.sleep(4)
        sends = [r.at for r in standin.received if limited_at + 1.0 <= r.at < limited_at + 4.0]
        assert 1 <= most_in_any_second(sends) <= 5, sorted(sends)
        before_change = [r.at for r in standin.received if limited_at - 3.0 <= r.at < limited_at]
        assert most_in_any_second(before_change) > 5  # the stream went faster than 5/s before

        # 2. lower the shed threshold under the alerts now waiting: batches become dead letters `shed`
        change("alerter_shed_mode", "dlq")
        with db.session_scope() as session:
            waiting = session.scalar(select(func.count()).select_from(Alert).where(Alert.state.in_(("pending", "sending"))))
        assert waiting > 10
        shed_at = change("alerter_queue_shed_threshold", 10)
        time.sleep(2.5)
        stream.stop()
        after = {event_id for at, event_id in stream.fed if at >= shed_at + 1.0}

        def shed_events() -> set[str]:
            with db.session_scope() as session:
                return set(session.scalars(select(DeadLetter.ref_id).where(DeadLetter.reason == "shed")))

        def processed(event_ids):
            with db.session_scope() as session:
                audited = set(session.scalars(select(EventAudit.event_id).where(EventAudit.event_id.in_(event_ids))))
            return audited | (shed_events() & event_ids) == event_ids

        wait_until(lambda: processed(after), timeout=30, message="the events fed after the change processed")
        shed = shed_events()
        assert after and after <= shed                     # everything fed a second after the change was shed
        with db.session_scope() as session:
            first_shed = session.scalar(select(func.min(DeadLetter.first_failed_at)).where(DeadLetter.reason == "shed"))
        assert first_shed.timestamp() - shed_at < 1.0

        # 3. back to the defaults; everything ends audited and delivered, or shed; same worker processes
        for key in ("alerter_queue_shed_threshold", "alerter_shed_mode", "moog_rate_limit"):
            change(key, None)
        fed = {event_id for _, event_id in stream.fed}

        def accounted():
            with db.session_scope() as session:
                audited = set(session.scalars(select(EventAudit.event_id)))
                states = dict(session.execute(select(Alert.state, func.count()).group_by(Alert.state)).all())
            shed = shed_events()
            return audited | shed == fed and not audited & shed and states == {"delivered": len(audited)} and audited

        audited = wait_until(accounted, timeout=120, interval=0.5, message="every event audited or shed, every alert delivered")
        shed = shed_events()
        delivered = {body["external_id"] for body in standin.delivered()}
        assert len(delivered) == len(audited)
        after_stats = worker_stats()
        assert after_stats["pid"] == before["pid"]
        assert after_stats["pool"]["processes"] == before["pool"]["processes"]
        assert after_stats["uptime"] > before["uptime"]

        metrics = scrape(metrics_port)
        assert metrics['mutt_alerter_events_processed_total{status="handled"}'] == len(audited)
        assert metrics['mutt_alerter_shed_events_total{mode="dlq"}'] == len(shed)
        assert metrics["mutt_moog_rate_limit_hits_total"] > 0
        assert "moog-secret" not in worker.log()
    finally:
        if stream is not None and stream._thread.is_alive():
            stream.stop()
        worker.stop()
