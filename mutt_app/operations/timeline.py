"""The dashboard's time series: what waited where, sampled every ``SAMPLE_EVERY`` seconds.

A sample is one small JSON object (its time, the ingest backlog, the alerts waiting to be sent,
the Celery queue depths, the Moogsoft breaker's state) appended to one Redis list
(``redis_keys.DASHBOARD_SAMPLES``) trimmed to ``MAX_SAMPLES``: the last hour, about 50 KB.

Who samples: whoever is already running and asks :func:`record_if_due` — the janitor (beat runs
it every ``JANITOR_INTERVAL`` seconds, 10 by default, whether anyone watches or not) and every
read of the dashboard (so a deployment without beat still draws its charts while watched). A
``SET NX PX`` gate lets one of them, across all processes, take a sample per interval; the
others pay one Redis round trip and take nothing. Taking a sample costs one grouped query on
the alerts table and a few Redis reads (see ``dashboard.take_sample``).

Pure functions turn samples into what the page draws (:func:`line`, :func:`bands`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from mutt_app.storage import redis_keys

SAMPLE_EVERY = 10          # seconds between samples (the gate lapses a second early: a janitor tick drifts)
MAX_SAMPLES = 360          # an hour at one sample per 10 s
SPAN_SECONDS = 3600        # what the charts show
BREAKER_STATES = ("closed", "half_open", "open")


def record_if_due(redis_client, take: Callable[[], dict[str, Any]], now: float | None = None) -> dict | None:
    """Take and keep a sample unless one was taken less than ``SAMPLE_EVERY`` seconds ago (by
    any process). ``take`` is called only when due; returns the sample kept, or None."""
    if not redis_client.set(redis_keys.DASHBOARD_SAMPLE_DUE, "1", nx=True, px=SAMPLE_EVERY * 1000 - 1000):
        return None
    sample = {"at": round(time.time() if now is None else now, 3), **take()}
    pipe = redis_client.pipeline()
    pipe.rpush(redis_keys.DASHBOARD_SAMPLES, json.dumps(sample, separators=(",", ":")))
    pipe.ltrim(redis_keys.DASHBOARD_SAMPLES, -MAX_SAMPLES, -1)
    pipe.execute()
    return sample


def read(redis_client, now: float | None = None, span: float = SPAN_SECONDS) -> list[dict[str, Any]]:
    """The samples of the last ``span`` seconds, oldest first."""
    since = (time.time() if now is None else now) - span
    samples = []
    for raw in redis_client.lrange(redis_keys.DASHBOARD_SAMPLES, 0, -1):
        try:
            sample = json.loads(raw)
        except ValueError:
            continue
        if isinstance(sample, dict) and isinstance(sample.get("at"), int | float) and sample["at"] >= since:
            samples.append(sample)
    return samples


def _value(sample: dict[str, Any], field: str) -> float | None:
    """A sample's field; ``queues.moog`` reads a nested one. None when the sample could not read it."""
    value: Any = sample
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def line(samples: list[dict[str, Any]], field: str, now: float, span: float = SPAN_SECONDS,
         width: int = 300, height: int = 60) -> dict[str, Any]:
    """One series as an SVG polyline in a ``width`` x ``height`` box: time runs left to right
    over the last ``span`` seconds, the highest value touches the top. ``points`` is the
    polyline's attribute ("" without samples); ``last`` and ``max`` label the chart. A gap in
    the samples (nobody sampled, or the part could not be read) breaks the line: ``points`` is
    a list of runs, each its own polyline."""
    values = [(sample["at"], _value(sample, field)) for sample in samples]
    known = [value for _, value in values if value is not None]
    top = max(known, default=0.0) or 1.0
    runs: list[list[str]] = []
    previous_at = None
    for at, value in values:
        if value is None:
            previous_at = None
            continue
        if previous_at is None or at - previous_at > 3 * SAMPLE_EVERY:
            runs.append([])
        previous_at = at
        x = max(0.0, width - (now - at) / span * width)
        y = height - value / top * height
        runs[-1].append(f"{x:.1f},{y:.1f}")
    return {"runs": [" ".join(run) for run in runs if len(run) > 1],
            "dots": [run[0] for run in runs if len(run) == 1],
            "last": _fmt(known[-1]) if known else None, "max": _fmt(max(known, default=0.0)),
            "width": width, "height": height}


def bands(samples: list[dict[str, Any]], now: float, span: float = SPAN_SECONDS,
          width: int = 300) -> list[dict[str, Any]]:
    """The breaker's state over time as bands ``{"x", "width", "state"}``: each sample's state
    holds until the next sample (at most ``3 * SAMPLE_EVERY``; after a longer gap: unknown).
    The newest sample, when still current, is the state now: it reaches the right edge and is
    at least one interval wide, even when it was taken this instant."""
    found: list[dict[str, Any]] = []
    for n, sample in enumerate(samples):
        state = sample.get("breaker") if sample.get("breaker") in BREAKER_STATES else "unknown"
        until = samples[n + 1]["at"] if n + 1 < len(samples) else now
        until = min(until, sample["at"] + 3 * SAMPLE_EVERY)
        x0 = max(0.0, width - (now - sample["at"]) / span * width)
        x1 = max(0.0, width - (now - until) / span * width)
        if n + 1 == len(samples) and until >= now:
            x0, x1 = min(x0, width - SAMPLE_EVERY / span * width), float(width)
            if found and found[-1]["state"] != state and found[-1]["x"] + found[-1]["width"] > x0:
                found[-1]["width"] = round(max(0.0, x0 - found[-1]["x"]), 1)
        if found and found[-1]["state"] == state and x0 - (found[-1]["x"] + found[-1]["width"]) < 0.2:
            found[-1]["width"] = round(max(x1, found[-1]["x"] + found[-1]["width"]) - found[-1]["x"], 1)
        elif x1 > x0:
            found.append({"x": round(x0, 1), "width": round(x1 - x0, 1), "state": state})
    return found


def _fmt(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 1)
