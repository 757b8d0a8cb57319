"""What high availability costs and how long a failover takes (docs/scaling.md, ADR 0017).

    python bench/replication.py [--requests 2000]

Starts a primary, a replica and three Sentinels (tests/support/sentinel.py, on free local ports),
then measures one ingest accept (the Lua append, one event, over MUTT's Sentinel client) without
and with the replica's confirmation (REDIS_MIN_REPLICAS_ACK=0 and 1): median and 99th percentile
in milliseconds. Last it SIGKILLs the primary and measures the seconds until MUTT's client writes
again (the Sentinels' down-after is 1 s here; production's 5 s adds 4 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.sentinel import MASTER, SentinelSet  # noqa: E402

EVENT = '{"hostname": "bench", "message": "link down"}'


def accept_latencies(requests: int, replicas: int) -> list[float]:
    from mutt_app import config
    from mutt_app.ingest.accept import Ingest
    from mutt_app.storage import redis_client

    os.environ["REDIS_MIN_REPLICAS_ACK"] = str(replicas)
    config.reset()
    ingest = Ingest(redis_client.get(), dispatch=lambda batch: None)
    seconds = []
    for number in range(requests):
        started = time.perf_counter()
        result = ingest.submit([EVENT], [], key_id="bench", key_name="bench", correlation_id=str(number))
        seconds.append(time.perf_counter() - started)
        assert result.status == "queued", result
    redis_client.get().flushdb()
    return seconds


def failover_seconds(sentinels: SentinelSet) -> float:
    import redis

    from mutt_app.storage import redis_client

    client = redis_client.get()
    sentinels.kill_primary()
    started = time.monotonic()
    while True:
        try:
            client.set("mutt:bench:failover", "1")
            return time.monotonic() - started
        except redis.RedisError:
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    sentinels = SentinelSet(Path(tempfile.mkdtemp(prefix="mutt-bench-sentinel-")))
    try:
        os.environ.update(REDIS_URL=sentinels.url, REDIS_SENTINEL_MASTER=MASTER, MUTT_ENV="test",
                          MUTT_HOME=tempfile.mkdtemp(prefix="mutt-bench-home-"))
        print(f"{'replica confirmation':<24}{'median ms':>10}{'p99 ms':>10}")
        for replicas in (0, 1):
            latencies = sorted(accept_latencies(args.requests, replicas))
            p99 = latencies[int(len(latencies) * 0.99) - 1]
            print(f"{'WAIT 1' if replicas else 'none':<24}{statistics.median(latencies) * 1000:>10.3f}{p99 * 1000:>10.3f}")
        print(f"failover: MUTT's client writes again {failover_seconds(sentinels):.1f} s after the primary's SIGKILL")
    finally:
        sentinels.stop()


if __name__ == "__main__":
    main()
