"""GET /metrics: Prometheus text with the ingest counters and the gauges sampled at scrape time; the
table of v2.5's metrics in docs/operations.md against what a scrape serves."""

import re
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from mutt_app.access import api_keys
from mutt_app.core import metrics
from mutt_app.ingest.accept import store_rejected
from mutt_app.storage.db import session_scope
from tests.support.web import forget_keys

EVENT = {"hostname": "h", "timestamp": "2025-01-15T14:30:22Z", "message": "m"}


def sample(text: str, name: str, labels: str = "") -> float | None:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def test_metrics_count_ingest_outcomes_and_sample_the_backlog_at_scrape_time(client, redis):
    with session_scope() as session:
        _, key = api_keys.create(session, "sender", ["ingest"], actor="test")
    forget_keys()
    before = client.get("/metrics").get_data(as_text=True)
    client.post("/api/v2/ingest", json=[EVENT, EVENT, {"message": "no host"}], headers={"X-API-KEY": key})
    client.post("/api/v2/ingest", json=EVENT, headers={"X-API-KEY": "mutt_00000000_wrong"})
    store_rejected(redis)  # as mutt.store_rejected does: the rejected item becomes a dead letter
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    after = response.get_data(as_text=True)

    def grew(name, labels=""):
        return sample(after, name, labels) - (sample(before, name, labels) or 0)

    assert grew("mutt_ingest_requests_total", '{reason="",status="success"}') == 1
    assert grew("mutt_ingest_requests_total", '{reason="auth",status="fail"}') == 1
    assert grew("mutt_ingest_events_total", '{outcome="accepted"}') == 2
    assert grew("mutt_ingest_events_total", '{outcome="rejected"}') == 1
    assert grew("mutt_ingest_latency_seconds_count") == 2
    assert sample(after, "mutt_ingest_queue_depth") == 2
    assert sample(after, "mutt_dead_letters", '{state="waiting"}') == 1
    assert sample(after, "mutt_circuit_breaker_state", '{name="moogsoft"}') == 0


def test_metrics_show_the_listener_counters(client, redis):
    from mutt_app.storage import redis_keys

    redis.hset(redis_keys.LISTENER_STATS, mapping={"syslog-udp:received": 10, "syslog-udp:dropped": 3})
    text = client.get("/metrics").get_data(as_text=True)
    assert sample(text, "mutt_listener_messages", '{listener="syslog-udp",outcome="dropped"}') == 3
    assert sample(text, "mutt_listener_messages", '{listener="syslog-udp",outcome="received"}') == 10


# --- docs/operations.md, "From v2.5's metrics" ----------------------------------------------------

OPERATIONS_DOC = Path(__file__).resolve().parents[3] / "docs" / "operations.md"
METRIC = re.compile(r"`([a-z_]+\*?)(?:\{([a-z_,]+)\})?`")


@dataclass(frozen=True)
class Mapping:
    v25: str
    mutt3: str | None
    labels: tuple[str, ...]
    values: dict[str, set[str]]


def _values(cell: str) -> dict[str, set[str]]:
    """`label`: `a`, `b`; `other`, `third`: `c` -> {label: {a, b}, other: {c}, third: {c}}"""
    if cell == "—":
        return {}
    values: dict[str, set[str]] = {}
    for part in cell.split(";"):
        labels, _, listed = part.partition(":")
        for label in re.findall(r"`([^`]+)`", labels):
            values[label] = set(re.findall(r"`([^`]+)`", listed))
    return values


def v25_table() -> list[Mapping]:
    section = OPERATIONS_DOC.read_text().split("### From v2.5's metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        v25, mutt3, values, _ = (cell.strip() for cell in line.strip().strip("|").split("|"))
        v25_match = METRIC.match(v25)
        assert v25_match, f"no v2.5 metric in {line!r}"
        if mutt3 == "none":
            rows.append(Mapping(v25_match.group(1), None, (), _values(values)))
            continue
        mutt3_match = METRIC.fullmatch(mutt3)
        assert mutt3_match, f"the MUTT 3 cell is neither `metric{{labels}}` nor none in {line!r}"
        labels = tuple(mutt3_match.group(2).split(",")) if mutt3_match.group(2) else ()
        rows.append(Mapping(v25_match.group(1), mutt3_match.group(1), labels, _values(values)))
    return rows


def served_names(text: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def served_values(text: str, name: str) -> dict[str, set[str]]:
    values: dict[str, set[str]] = {}
    for labels in re.findall(rf"^{re.escape(name)}{{([^}}]*)}} ", text, re.M):
        for label, value in re.findall(r'([a-z_]+)="([^"]*)"', labels):
            values.setdefault(label, set()).add(value)
    return values


def metric_objects() -> dict[str, MetricWrapperBase]:
    """MUTT's metrics by the name a scrape shows (a counter's with _total)."""
    found = {}
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            family = metric.describe()[0]
            found[family.name + ("_total" if family.type == "counter" else "")] = metric
    return found


def test_the_v25_metrics_table_names_every_mutt3_metric_as_served_with_exactly_its_labels(client):
    text = client.get("/metrics").get_data(as_text=True)
    served, objects = served_names(text), metric_objects()
    rows = [row for row in v25_table() if row.mutt3]
    assert len(rows) >= 20
    for row in rows:
        assert row.mutt3 in served, f"{row.mutt3} (for v2.5's {row.v25}) is not served"
        metric = objects[row.mutt3]
        if row.labels:
            metric.labels(**dict.fromkeys(row.labels, "doc"))  # ValueError unless exactly these label names
            metric.remove(*["doc"] * len(row.labels))
        else:
            assert re.search(rf"^{re.escape(row.mutt3)}(_count)? ", text, re.M), f"{row.mutt3} has labels"
        assert set(row.values) == set(row.labels), f"{row.mutt3}: values given for {sorted(row.values)}"


def test_v25_metrics_the_table_gives_another_name_or_none_are_not_served(client):
    served = served_names(client.get("/metrics").get_data(as_text=True))
    rows = v25_table()
    kept = {row.mutt3 for row in rows}
    gone = [row.v25 for row in rows if row.v25 not in kept]
    assert len(gone) >= 15
    for name in gone:
        if name.endswith("*"):
            assert not any(served_name.startswith(name[:-1]) for served_name in served), name
        else:
            assert name not in served


def test_the_v25_metrics_table_gives_the_label_values_a_scrape_shows_for_the_sampled_gauges(client):
    text = client.get("/metrics").get_data(as_text=True)
    objects = metric_objects()
    gauges = [row for row in v25_table()
              if row.mutt3 and row.labels and objects[row.mutt3].describe()[0].type == "gauge"]
    assert {row.mutt3 for row in gauges} == {"mutt_dead_letters", "mutt_circuit_breaker_state"}
    for row in gauges:
        assert served_values(text, row.mutt3) == row.values, f"{row.mutt3} (for v2.5's {row.v25})"
