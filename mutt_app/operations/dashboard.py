"""Ingest rates for the dashboard and ``GET /api/v2/metrics`` (the rest of the dashboard's
picture comes from :func:`mutt_app.operations.status.gather`).

Ingest rates come from the per-minute and per-hour counters that ingest increments
(``redis_keys.ingest_rate``). A minute without a counter had no events and counts as zero. The
current minute is still filling: it is shown as "now" but kept out of the 15-minute and
1-hour averages, which are over the last 15 and 60 complete minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mutt_app.ingest.buffer import RATE_BUCKETS
from mutt_app.storage import redis_keys

_FORMATS = {bucket: fmt for bucket, fmt, _ in RATE_BUCKETS}


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
