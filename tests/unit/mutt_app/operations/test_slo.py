"""SLO arithmetic: burn rate, error budget, status thresholds, p99 from histogram buckets."""

from types import SimpleNamespace

import pytest

from mutt_app.operations import slo
from mutt_app.storage import redis_keys

INF = float("inf")


@pytest.mark.parametrize("good,total,status,burn,budget", [
    (1000, 1000, "ok", 0.0, 1.0),
    (9995, 10000, "ok", 0.5, 0.5),
    (9985, 10000, "breaching", 1.5, -0.5),
    (994, 1000, "warning", 6.0, -5.0),
    (980, 1000, "critical", 20.0, -19.0),
])
def test_availability(good, total, status, burn, budget):
    item = slo.availability(slo.INGEST_AVAILABILITY, good, total)
    assert item["status"] == status
    assert item["burn_rate"] == pytest.approx(burn)
    assert item["error_budget_remaining"] == pytest.approx(budget)


def test_no_traffic_is_unknown_not_critical():
    assert slo.availability(slo.INGEST_AVAILABILITY, 0, 0)["status"] == "unknown"
    assert slo.latency(slo.INGEST_LATENCY, [])["status"] == "unknown"
    assert slo.overall([{"status": "unknown"}, {"status": "ok"}]) == "unknown"
    assert slo.overall([{"status": "ok"}, {"status": "warning"}, {"status": "breaching"}]) == "warning"


@pytest.mark.parametrize("buckets,p99,status", [
    ([(0.1, 990), (0.25, 1000), (INF, 1000)], 0.1, "ok"),
    ([(0.1, 900), (0.5, 985), (0.75, 995), (INF, 1000)], 0.75, "breaching"),
    ([(0.1, 900), (1.0, 995), (INF, 1000)], 1.0, "warning"),
    ([(0.1, 900), (2.5, 985), (INF, 1000)], INF, "critical"),
])
def test_latency_p99_is_the_bucket_holding_it(buckets, p99, status):
    item = slo.latency(slo.INGEST_LATENCY, buckets)
    assert (item["actual_value"], item["status"]) == (p99, status)


def sample(name, value, **labels):
    return SimpleNamespace(name=name, value=value, labels=labels)


def test_report_leaves_client_errors_out_of_ingest_availability(redis):
    redis.hset(redis_keys.STATS, mapping={"audited": 5, "unhandled": 5})
    samples = [
        sample("mutt_ingest_requests_total", 990, status="success", reason=""),
        sample("mutt_ingest_requests_total", 500, status="fail", reason="rate_limit"),
        sample("mutt_ingest_requests_total", 300, status="fail", reason="validation"),
        sample("mutt_ingest_requests_total", 7, status="fail", reason="queue_full"),
        sample("mutt_ingest_requests_total", 3, status="fail", reason="redis"),
        sample("mutt_moog_alerts_processed_total", 99, status="success"),
        sample("mutt_moog_alerts_processed_total", 1, status="dlq"),
        sample("mutt_moog_alerts_processed_total", 50, status="retry"),
        sample("mutt_ingest_latency_seconds_bucket", 1000, le="0.05"),
        sample("mutt_ingest_latency_seconds_bucket", 1000, le="+Inf"),
    ]
    ingest, latency, forwarder, moog_latency, alerter = slo.report(redis, samples)
    assert (ingest["good"], ingest["total"], ingest["status"]) == (990, 1000, "critical")
    assert latency["actual_value"] == 0.05
    assert forwarder["actual_value"] == 0.99 and moog_latency["status"] == "unknown"
    assert alerter["actual_value"] == 1.0


HOUR = 3600.0


def ingest_samples(good: float, failed: float) -> list:
    return [sample("mutt_ingest_requests_total", good, status="success", reason=""),
            sample("mutt_ingest_requests_total", failed, status="fail", reason="redis")]


def test_the_window_is_everything_counted_until_a_day_of_snapshots_exists(redis):
    start = 1_000_000.0
    first = slo.report(redis, ingest_samples(100, 0), now=start)[0]
    assert (first["good"], first["total"], first["window_hours"], first["measured_hours"]) == (100, 100, 24, None)
    later = slo.report(redis, ingest_samples(200, 50), now=start + 2 * HOUR)[0]
    assert (later["good"], later["total"], later["measured_hours"]) == (200, 250, None)


def test_a_day_on_only_the_last_24_hours_count(redis):
    start = 1_000_000.0
    for hour in range(0, 27):  # a failure burst in the first hour, clean traffic after it
        redis.delete(redis_keys.SLO_SNAPSHOT_DUE)  # as if SNAPSHOT_EVERY had passed
        good, failed = 100 + 100 * hour, 50
        item = slo.report(redis, ingest_samples(good, failed), now=start + hour * HOUR)[0]
    # 26 h after the start: the burst (before hour 2) is out of the window, the 50 failures gone
    assert item["measured_hours"] == 24 and (item["good"], item["total"]) == (2400, 2400)
    assert item["status"] == "ok"


def test_counters_that_restarted_count_from_their_restart(redis):
    start = 1_000_000.0
    for hour in range(0, 26):
        redis.delete(redis_keys.SLO_SNAPSHOT_DUE)
        slo.report(redis, ingest_samples(1000 + hour, 0), now=start + hour * HOUR)
    item = slo.report(redis, ingest_samples(7, 1), now=start + 26 * HOUR)[0]  # a process restart: counts fell
    assert (item["good"], item["total"], item["measured_hours"]) == (7, 8, None)


def test_every_slo_has_a_readable_title(redis):
    titles = [item["title"] for item in slo.report(redis, [])]
    assert titles == ["Ingest availability", "Ingest answer time (p99)", "Moogsoft delivery", "Moogsoft answer time (p99)",
                      "Event processing"]
