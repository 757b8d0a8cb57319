"""Cost per event of checking silences: 1,000 silences in force, events that match none and
events that match one, through ``SilenceSet.silencing`` as the alerter calls it. Pure, no stack.

    .venv/bin/python bench/silences.py                  # 1,000 silences, 200,000 events
    .venv/bin/python bench/silences.py --silences 5000 --general 50 --regex
    .venv/bin/python bench/silences.py --e2e            # the 100 silences and the events of bench/e2e.py

The silences: one per host (hostname = ...), some also on rule_id or a message prefix, and
``--general`` ones not indexed by host: environment = dev and "contains" (or with --regex a
regex) on the message; with --message-only, the message matcher alone, so that every event is
checked against them. The figure is the best of --repeat runs (as timeit reports), so that a
busy machine disturbs it less.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mutt_app.suppression.silences import Silence, SilenceSet, validate  # noqa: E402


def build(count: int, general: int, now: datetime, *, regex: bool, message_only: bool = False) -> SilenceSet:
    rows = []
    for number in range(count):
        if number < general:
            matchers = [] if message_only else [{"field": "environment", "op": "=", "value": "dev"}]
            matchers.append({"field": "message", "op": "=~" if regex else "contains",
                             "value": f"card {number} (down|reset)" if regex else f"card {number} "})
        else:
            matchers = [{"field": "hostname", "op": "=", "value": f"host-{number:05d}.example.net"}]
            if number % 3 == 0:
                matchers.append({"field": "rule_id", "op": "=", "value": str(number % 500)})
            if number % 5 == 0:
                matchers.append({"field": "message", "op": "prefix", "value": "LINK"})
        fields = {"matchers": matchers, "comment": f"bench {number}", "ends_at": (now + timedelta(hours=2)).isoformat()}
        rows.append(validate(fields, now=now) | {"id": number + 1})
    return SilenceSet(Silence.of(row) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--silences", type=int, default=1000)
    parser.add_argument("--general", type=int, default=10, help="silences without an exact hostname matcher")
    parser.add_argument("--regex", action="store_true", help="the general silences match the message by regex (=~)")
    parser.add_argument("--message-only", action="store_true", help="the general silences have no environment matcher")
    parser.add_argument("--e2e", action="store_true",
                        help="bench/e2e.py's 100 silences and its events instead (one recurring, on a host regex)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    now = datetime.now(UTC)
    rng = random.Random(7)
    if options.e2e:
        from bench.e2e import make_event, make_silences
        silence_set = SilenceSet(Silence.of(validate(fields, now=now) | {"id": number + 1})
                                 for number, fields in enumerate(make_silences(now)))
        events = [make_event(rng, n) for n in range(2000)]
    else:
        silence_set = build(options.silences, options.general, now, regex=options.regex, message_only=options.message_only)
        events = [{"hostname": f"host-{rng.randrange(options.silences * 2):05d}.example.net",
                   "message": rng.choice(["LINK-3-UPDOWN: Interface Gi0/1 down", "card 3 reset", "all good"]),
                   "_key": "syslog"} for _ in range(2000)]
    contexts = [(event, rng.randrange(500), rng.choice(("prod", "dev"))) for event in events]
    silence_set.active(now)  # the index is built once per window change, not per event
    elapsed = float("inf")
    for _ in range(options.repeat):
        silenced = 0
        started = time.perf_counter()
        for index in range(options.events):
            event, rule_id, environment = contexts[index % len(contexts)]
            if silence_set.silencing(event, now=now, rule_id=rule_id, environment=environment, team="network") is not None:
                silenced += 1
        elapsed = min(elapsed, time.perf_counter() - started)
    if options.e2e:
        kind = f"bench/e2e.py's {len(silence_set)} silences"
    else:
        general = f"{'' if options.message_only else 'environment + '}{'regex' if options.regex else 'contains'} on the message"
        kind = f"{options.silences} silences in force ({options.general} not indexed by host: {general})"
    print(f"{kind}, {options.events} events, best of {options.repeat}: {elapsed / options.events * 1e6:.2f} µs per event, "
          f"{silenced / options.events:.1%} silenced")


if __name__ == "__main__":
    main()
