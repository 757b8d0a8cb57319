"""The dashboard's numbers: ingest rates (also ``GET /api/v2/metrics``), the alerts by outbox
state, and the picture the page and its live fragment draw (:func:`picture`; the parts of it that
`mutt status` shares come from :mod:`mutt_app.operations.status`, the time series from
:mod:`mutt_app.operations.timeline`).

"Now" is the last 60 seconds, rolling. For ingest it is estimated from the per-minute counters:
this minute's events plus the share of the previous minute's that is still inside the 60 s
(exact when events came evenly over that minute; ingest keeps no finer counter, and adding one
would cost every ingest request a write). For alerts it is exact: delivered in the last 60 s.

Ingest rates come from the per-minute and per-hour counters that ingest increments
(``redis_keys.ingest_rate``). A minute without a counter had no events and counts as zero. The
current minute is still filling: it is shown as "now" but kept out of the 15-minute and
1-hour averages, which are over the last 15 and 60 complete minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from mutt_app.ingest.buffer import RATE_BUCKETS
from mutt_app.operations import slo, status, timeline
from mutt_app.storage import redis_keys
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import Alert

_FORMATS = {bucket: fmt for bucket, fmt, _ in RATE_BUCKETS}
NOW_SECONDS = 60                # "now": the last 60 s, rolling
DELIVERED_SECONDS = 3600        # delivered alerts are counted over the last hour
FAILED_SECONDS = 24 * 3600      # alerts that became dead letters, over the last 24 hours


def _counts(redis_client, bucket: str, stamps: list[datetime]) -> list[int]:
    names = [redis_keys.ingest_rate(bucket, stamp.strftime(_FORMATS[bucket])) for stamp in stamps]
    return [int(value or 0) for value in redis_client.mget(names)]


def ingest_rates(redis_client, now: datetime | None = None) -> dict:
    """``{"summary": {...}, "chart_24h": {"labels": [24], "data": [24]}}`` in events per minute."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    minute = now.replace(second=0, microsecond=0)
    # index 0 is the current (partial) minute, 1..60 the complete minutes before it
    minutes = _counts(redis_client, "1m", [minute - timedelta(minutes=i) for i in range(61)])
    hour = minute.replace(minute=0)
    hours = [hour - timedelta(hours=i) for i in range(23, -1, -1)]
    per_hour = _counts(redis_client, "1h", hours)
    elapsed = max(1.0, (now - hour).total_seconds() / 60)  # minutes of the current hour so far
    data = [round(count / 60, 2) for count in per_hour[:-1]] + [round(per_hour[-1] / elapsed, 2)]
    return {
        "summary": {
            "current_rate_1m": minutes[0],
            "avg_rate_15m": round(sum(minutes[1:16]) / 15, 2),
            "avg_rate_1h": round(sum(minutes[1:61]) / 60, 2),
        },
        "chart_24h": {"labels": [h.strftime("%H:00") for h in hours], "data": data},
    }


def chart_svg_points(data: list[float], width: int = 720, height: int = 160) -> list[tuple[float, float, float]]:
    """(x, y, value) for a bar per hour, scaled into a ``width`` x ``height`` SVG box."""
    top = max(data, default=0) or 1
    step = width / max(1, len(data))
    return [(round(i * step, 1), round(height - value / top * height, 1), value) for i, value in enumerate(data)]


def events_last_60s(redis_client, now: datetime | None = None) -> int:
    """Events accepted in the last 60 s, rolling: this minute's counter plus the part of the
    previous minute's that the window still covers (see the module's docstring)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    minute = now.replace(second=0, microsecond=0)
    current, previous = _counts(redis_client, "1m", [minute, minute - timedelta(minutes=1)])
    elapsed = (now - minute).total_seconds()
    return current + round(previous * (NOW_SECONDS - elapsed) / NOW_SECONDS)


def outbox(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """The alerts by outbox state, in one grouped query: ``pending`` (waiting for a send or a
    retry) and ``sending`` (claimed by a worker), all of them, with the oldest one's age;
    ``delivered`` in the last hour and the last 60 s; ``dead`` (became dead letters) in the last
    24 hours and the last 60 s. Finished rows are read by (state, updated_at), so the query
    reads the alerts it counts, not the table."""
    now = now or datetime.now(UTC)
    day, hour, minute = (now - timedelta(seconds=s) for s in (FAILED_SECONDS, DELIVERED_SECONDS, NOW_SECONDS))
    rows = session.execute(
        select(Alert.state, func.count(),
               func.sum(case((Alert.updated_at >= hour, 1), else_=0)),
               func.sum(case((Alert.updated_at >= minute, 1), else_=0)),
               func.min(Alert.created_at))
        .where(or_(Alert.state.in_(("pending", "sending")),
                   and_(Alert.state == "delivered", Alert.updated_at >= hour),
                   and_(Alert.state == "dead", Alert.updated_at >= day)))
        .group_by(Alert.state)
    ).all()
    by_state = {state: (count, int(last_hour or 0), int(last_minute or 0), oldest)
                for state, count, last_hour, last_minute, oldest in rows}

    def count(state: str) -> int:
        return by_state.get(state, (0,))[0]

    oldest = [status.aware(by_state[state][3]) for state in ("pending", "sending") if state in by_state]
    return {
        "pending": count("pending"),
        "sending": count("sending"),
        "waiting": count("pending") + count("sending"),
        "oldest_waiting_seconds": round(max(0.0, (now - min(oldest)).total_seconds())) if oldest else None,
        "delivered_last_hour": count("delivered"),
        "delivered_last_60s": by_state.get("delivered", (0, 0, 0))[2],
        "dead_last_24h": count("dead"),
        "dead_last_60s": by_state.get("dead", (0, 0, 0))[2],
    }


def sample(ingest: dict[str, Any], alerts: dict[str, Any], queues: dict[str, Any], breaker: dict[str, Any]) -> dict:
    """What one time-series sample keeps, from the parts as :mod:`status` reads them (a part
    that could not be read, ``{"error": ...}``, leaves its fields out: a gap in the chart)."""
    found: dict[str, Any] = {}
    if "error" not in ingest:
        found["backlog"] = ingest["backlog"]
    if "error" not in alerts:
        found.update(waiting=alerts["waiting"], pending=alerts["pending"], sending=alerts["sending"])
    if "error" not in queues:
        found["queues"] = {name: depth for name, depth in queues["waiting"].items() if depth is not None}
    if "error" not in breaker:
        found["breaker"] = breaker["state"]
    return found


def take_sample(celery_app, redis_client, queues) -> dict:
    """A sample read fresh (for the janitor, which has no report at hand)."""
    return sample(status.guarded(status.ingest, redis_client),
                  status.guarded(_in_session, outbox),
                  status.guarded(status.queue_depths, celery_app, queues),
                  status.guarded(status.breaker, redis_client))


def _in_session(query):
    with session_scope() as session:
        return query(session)


CHARTS = (("backlog", "Ingest backlog", "events accepted, not yet processed"),
          ("waiting", "Alerts waiting to be sent", "pending + sending in the outbox"),
          ("queues.alerts", "Celery queue alerts", "batches waiting for the alerter"),
          ("queues.moog", "Celery queue moog", "send tasks waiting for the forwarder"))


def picture(celery_app, redis_client, queues, now: datetime | None = None, ask_workers: bool = False) -> dict[str, Any]:
    """Everything the dashboard shows, read once: the live part (tiles, problems, charts) and,
    with ``ask_workers``, the workers (a 0.5 s broadcast: the page asks, the live fragment
    polled every few seconds does not). Records a time-series sample when one is due."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    report = status.gather(celery_app, redis_client, queues, worker_timeout=0.5 if ask_workers else None)
    report["outbox"] = status.guarded(_in_session, lambda session: outbox(session, now))
    stamp = now.timestamp()
    timeline.record_if_due(redis_client, lambda: sample(report["ingest"], report["outbox"], report["queues"],
                                                        report["breaker"]), stamp)
    samples = timeline.read(redis_client, stamp)
    rates = ingest_rates(redis_client, now)
    slos = slo.report(redis_client)
    return {
        "now": now,
        "status": report,
        "rates": rates,
        "events_last_60s": events_last_60s(redis_client, now),
        "bars": chart_svg_points(rates["chart_24h"]["data"]),
        "charts": [{"field": field, "title": title, "meaning": meaning, **timeline.line(samples, field, stamp)}
                   for field, title, meaning in CHARTS],
        "breaker_bands": timeline.bands(samples, stamp),
        "samples": len(samples),
        "sample_every": timeline.SAMPLE_EVERY,
        "slos": slos,
        "slo_status": slo.overall(slos),
    }
