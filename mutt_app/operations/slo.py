"""Service-level objectives, computed from MUTT's own counters (no Prometheus server).

Sources: the Prometheus counters and histograms of this deployment's processes (read from
``PROMETHEUS_MULTIPROC_DIR`` when set, which the web server and the workers of one machine share,
else this process's registry) and the event-outcome counters in Redis (``redis_keys.STATS``).

The window is a rolling 24 hours, as v2.5's: the counters are cumulative, so every report keeps a
snapshot of them in Redis (at most one per ``SNAPSHOT_EVERY`` seconds, across processes) and an
SLO is computed on what they grew by since the oldest snapshot inside the window. Until a day of
snapshots exists, or when the counters restarted after every snapshot in the window (a value below
its snapshot), it is computed on everything counted since the counters started: each item says
which (``window_hours`` 24; ``measured_hours`` the hours covered, null for "since the start").

Availability: burn rate = (1 - actual) / (1 - target); error budget left =
(actual - target) / (1 - target). Status ``critical`` at a burn rate >= 10, ``warning`` >= 5,
``breaching`` below target, else ``ok``; ``unknown`` without traffic. Client errors (4xx,
including 429) are the caller's fault and do not count against ingest availability; alerts
waiting for a retry count neither way until they are delivered or dead-lettered.
Latency: the p99 is the upper bound of the histogram bucket holding the 99th percentile.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from mutt_app.storage import redis_keys

WARN_BURN, CRIT_BURN = 5.0, 10.0
WINDOW_SECONDS = 24 * 3600
SNAPSHOT_EVERY = 300

# Reasons (label of mutt_ingest_requests) of the requests ingest failed through its own fault,
# all answered 503; every other failure (400, 401, 403, 405, 413, 415, 429) is the caller's.
INGEST_SERVER_FAILURES = frozenset({"redis", "unknown", "queue_full", "unavailable"})


@dataclass(frozen=True)
class Availability:
    name: str
    title: str
    description: str
    target: float


@dataclass(frozen=True)
class Latency:
    name: str
    title: str
    description: str
    target_seconds: float
    warning_seconds: float
    critical_seconds: float


INGEST_AVAILABILITY = Availability("ingestor_availability", "Ingest availability",
                                   "Ingest requests answered without a server error (4xx excluded).", 0.999)
INGEST_LATENCY = Latency("ingestor_latency_p99", "Ingest answer time (p99)",
                         "99th percentile of the time to answer an ingest request.", 0.5, 0.75, 1.0)
FORWARDER_AVAILABILITY = Availability("forwarder_availability", "Moogsoft delivery",
                                      "Alerts delivered to Moogsoft rather than dead-lettered.", 0.995)
FORWARDER_LATENCY = Latency("forwarder_latency_p99", "Moogsoft answer time (p99)",
                            "99th percentile of Moogsoft's answer time.", 2.0, 3.0, 5.0)
ALERTER_SUCCESS = Availability("alerter_processing_success", "Event processing",
                               "Accepted events processed (audited or counted unhandled) rather than dead-lettered.",
                               0.999)


def availability(slo: Availability, good: float, total: float) -> dict:
    item = {"slo_name": slo.name, "title": slo.title, "description": slo.description, "target": slo.target,
            "good": good, "total": total}
    if total <= 0:
        return {**item, "actual_value": None, "burn_rate": None, "error_budget_remaining": None,
                "status": "unknown", "message": "no traffic counted yet"}
    actual = good / total
    allowed = 1 - slo.target
    burn = (1 - actual) / allowed
    status = ("critical" if burn >= CRIT_BURN else "warning" if burn >= WARN_BURN
              else "breaching" if actual < slo.target else "ok")
    return {**item, "actual_value": round(actual, 6), "burn_rate": round(burn, 3),
            "error_budget_remaining": round((actual - slo.target) / allowed, 4), "status": status,
            "message": f"{total - good:g} of {total:g} failed"}


def latency(slo: Latency, buckets: list[tuple[float, float]]) -> dict:
    """``buckets``: (upper bound, cumulative count) pairs, ending with +Inf."""
    item = {"slo_name": slo.name, "title": slo.title, "description": slo.description, "target_seconds": slo.target_seconds}
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return {**item, "actual_value": None, "burn_rate": None, "error_budget_remaining": None,
                "status": "unknown", "message": "no requests measured yet"}
    p99 = next(bound for bound, count in buckets if count >= 0.99 * total)
    status = ("critical" if p99 > slo.critical_seconds else "warning" if p99 > slo.warning_seconds
              else "breaching" if p99 > slo.target_seconds else "ok")
    return {**item, "actual_value": p99, "burn_rate": round(p99 / slo.target_seconds, 3),
            "error_budget_remaining": round(1 - p99 / slo.target_seconds, 4) if p99 != float("inf") else None,
            "status": status, "message": f"p99 <= {p99:g} s over {total:g} requests"}


def _samples() -> list:
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return [sample for family in registry.collect() for sample in family.samples]


def _sum(samples, name: str, keep=lambda labels: True) -> float:
    return sum(s.value for s in samples if s.name == name and keep(s.labels))


def _buckets(samples, name: str) -> list[tuple[float, float]]:
    totals: dict[float, float] = {}
    for s in samples:
        if s.name == name + "_bucket":
            bound = float(s.labels["le"])
            totals[bound] = totals.get(bound, 0) + s.value
    return sorted(totals.items())


def counters(redis_client, samples) -> dict[str, float]:
    """The cumulative counts the SLOs are computed from, by name (histogram buckets as
    ``<histogram>|<upper bound>``)."""
    def succeeded(labels):
        return labels.get("status") == "success"

    def server_failed(labels):
        return labels.get("status") != "success" and labels.get("reason") in INGEST_SERVER_FAILURES

    stats = {field: int(value) for field, value in redis_client.hgetall(redis_keys.STATS).items()}
    found = {
        "ingest_good": _sum(samples, "mutt_ingest_requests_total", succeeded),
        "ingest_failed": _sum(samples, "mutt_ingest_requests_total", server_failed),
        "delivered": _sum(samples, "mutt_moog_alerts_processed_total", succeeded),
        "dead": _sum(samples, "mutt_moog_alerts_processed_total", lambda labels: labels.get("status") == "dlq"),
        "processed": stats.get("audited", 0) + stats.get("unhandled", 0),
        "dead_lettered": stats.get("dead_lettered", 0),
    }
    for histogram in ("mutt_ingest_latency_seconds", "mutt_moog_request_latency_seconds"):
        found.update({f"{histogram}|{bound!r}": count for bound, count in _buckets(samples, histogram)})
    return found


def windowed(redis_client, now: float, current: dict[str, float]) -> tuple[dict[str, float], float | None]:
    """What ``current`` grew by over the rolling window, and the seconds that covers (None:
    since the counters started, for a history younger than the window or counters restarted
    since every snapshot in it). Keeps a snapshot every ``SNAPSHOT_EVERY`` seconds and forgets
    those older than the window needs."""
    if redis_client.set(redis_keys.SLO_SNAPSHOT_DUE, "1", nx=True, ex=SNAPSHOT_EVERY):
        pipe = redis_client.pipeline()
        pipe.zadd(redis_keys.SLO_SNAPSHOTS, {json.dumps({"at": now, "counters": current}): now})
        pipe.zremrangebyscore(redis_keys.SLO_SNAPSHOTS, "-inf", now - WINDOW_SECONDS - SNAPSHOT_EVERY)
        pipe.execute()
    oldest = redis_client.zrange(redis_keys.SLO_SNAPSHOTS, 0, 0, withscores=True)
    if not oldest or oldest[0][1] > now - WINDOW_SECONDS + SNAPSHOT_EVERY:
        return current, None  # less than a day of snapshots: everything counted so far
    for member in redis_client.zrangebyscore(redis_keys.SLO_SNAPSHOTS, now - WINDOW_SECONDS, "+inf"):
        snapshot = json.loads(member)
        base = snapshot["counters"]
        if all(current.get(name, 0) >= value for name, value in base.items()):  # else the counters restarted since
            return {name: value - base.get(name, 0) for name, value in current.items()}, now - snapshot["at"]
    return current, None


def report(redis_client, samples=None, now: float | None = None) -> list[dict]:
    """Every SLO's state over the rolling window."""
    samples = _samples() if samples is None else samples
    counts, covered = windowed(redis_client, time.time() if now is None else now, counters(redis_client, samples))

    def buckets(histogram: str) -> list[tuple[float, float]]:
        return sorted((float(name.split("|", 1)[1]), value) for name, value in counts.items() if name.startswith(histogram + "|"))

    items = [
        availability(INGEST_AVAILABILITY, counts["ingest_good"], counts["ingest_good"] + counts["ingest_failed"]),
        latency(INGEST_LATENCY, buckets("mutt_ingest_latency_seconds")),
        availability(FORWARDER_AVAILABILITY, counts["delivered"], counts["delivered"] + counts["dead"]),
        latency(FORWARDER_LATENCY, buckets("mutt_moog_request_latency_seconds")),
        availability(ALERTER_SUCCESS, counts["processed"], counts["processed"] + counts["dead_lettered"]),
    ]
    window = {"window_hours": WINDOW_SECONDS / 3600, "measured_hours": None if covered is None else round(covered / 3600, 2)}
    return [{**item, **window} for item in items]


def overall(items: list[dict]) -> str:
    """The worst status among ``items`` (unknown counts as ok: no traffic is not an outage)."""
    order = ["ok", "unknown", "breaching", "warning", "critical"]
    return max((item["status"] for item in items), key=order.index, default="unknown")
