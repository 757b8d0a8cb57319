"""Rule matching speed: events/s against 1,000 mixed rules on one core.

    python bench/rules.py [--rules 1000] [--events 200000] [--seed 7]

The rules: half `contains`, 30 % `regex` (1 % of them, --unindexed, without a literal the index can use),
20 % `oid_prefix`, a tenth of them with a severity filter; a few match often (like v2.5's
seed rules), most rarely; the seed rules' clear patterns included. The events: v2.5's sample data
(tests/data) plus generated syslog lines and traps. Both ``match`` (problem patterns) and
``classify`` (problem and clear patterns, and the key) are timed. The results are checked against
a linear scan of every rule on a sample first, so a fast wrong answer cannot pass for a result.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mutt_app.rules.matcher import RuleSet  # noqa: E402
from mutt_app.rules.seed import RULES as SEED_RULES  # noqa: E402

FACILITIES = ["LINK", "LINEPROTO", "SYS", "OSPF", "BGP", "PIX", "ASA", "DOT1X", "SNMP", "AUTH", "SEC", "HA",
              "CDP", "STP", "DHCP", "NTP", "VPN", "IPSEC", "PORT", "ENV"]
MNEMONICS = ["UPDOWN", "CHANGED", "RESTART", "ADJCHANGE", "NOTIFICATION", "FAIL", "DENY", "CONFIG_I",
             "FIRMWARE-RUNNING", "LOGIN_FAILED", "OVERHEAT", "FLAP", "DUPLEX_MISMATCH", "PEER_DOWN", "TIMEOUT"]
WORDS = ["interface", "GigabitEthernet0/1", "changed", "state", "to", "down", "up", "neighbor", "from", "user",
         "admin", "failed", "authentication", "temperature", "critical", "error", "packet", "dropped", "vlan",
         "port", "protocol", "session", "timeout", "restarted", "config", "memory", "cpu", "threshold"]


def token(rng: random.Random, size: int = 6) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(size))


def make_rules(rng: random.Random, count: int, unindexed: float = 0.02) -> list[dict]:
    rules = [dict(rule, id=i + 1) for i, rule in enumerate(SEED_RULES)]
    for i in range(len(rules), count):
        kind = rng.random()
        rule = dict(id=i + 1, name=f"rule {i + 1}", priority=rng.randint(1, 500), prod_handling="Ticket_only",
                    dev_handling="Ignore", team_assignment="NetOps")
        if kind < 0.5:
            rule.update(match_type="contains", match_string=f"%{rng.choice(FACILITIES)}-{rng.randint(0, 7)}-{token(rng)}")
        elif kind < 0.8:
            shape = rng.random()
            if shape < 0.6:
                pattern = rf"{rng.choice(FACILITIES)}-\d-{token(rng, 5)}.*(port|interface)\s+\S+"
            elif shape < 1 - unindexed:
                pattern = rf"(?:{token(rng, 4)}|{token(rng, 5)})_(?:FAIL|ERR)\w*: .* on (?:Gi|Te)\d+/\d+"
            else:  # no literal the index can use: checked against every event
                pattern = rf"\b[0-9a-f]{{4}}\.[0-9a-f]{{4}}\.[0-9a-f]{{{rng.randint(4, 9)}}}\b"
            rule.update(match_type="regex", match_string=pattern)
        else:
            arcs = ".".join(str(rng.randint(1, 60)) for _ in range(rng.randint(2, 6)))
            rule.update(match_type="oid_prefix", trap_oid=f".1.3.6.1.4.1.{arcs}")
        if rng.random() < 0.1:
            rule["syslog_severity"] = rng.randint(0, 7)
        rules.append(rule)
    return rules


def sample_events(data_dir: Path) -> list[dict]:
    events = []
    for name in ("test_data_syslog_events.json", "demo_syslog_events.json", "demo_snmp_traps.json"):
        path = data_dir / name
        if path.exists():
            events.extend(json.loads(path.read_text(encoding="utf-8-sig")))
    return events


def make_events(rng: random.Random, count: int, samples: list[dict]) -> list[dict]:
    events = list(samples)
    while len(events) < count:
        if rng.random() < 0.8:
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14)))
            message = f"%{rng.choice(FACILITIES)}-{rng.randint(0, 7)}-{rng.choice(MNEMONICS)}: {words}"
            events.append({"hostname": f"host-{rng.randint(1, 500)}", "message": message,
                           "syslog_severity": rng.randint(0, 7)})
        else:
            oid = "1.3.6.1.4.1." + ".".join(str(rng.randint(1, 60)) for _ in range(rng.randint(3, 9)))
            events.append({"hostname": f"host-{rng.randint(1, 500)}", "message": "trap", "trap_oid": oid})
    rng.shuffle(events)
    return events[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--unindexed", type=float, default=0.01,
                        help="share of regex rules without a literal the index can use (each costs ~1 us per event)")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / "tests" / "data"))
    args = parser.parse_args()

    rng = random.Random(args.seed)
    rules = make_rules(rng, args.rules, args.unindexed)
    started = time.perf_counter()
    rule_set = RuleSet(rules)
    compile_ms = (time.perf_counter() - started) * 1000
    events = make_events(rng, args.events, sample_events(Path(args.data)))

    sample = events[:5000]
    for event in sample:
        assert rule_set.match(event) == rule_set.match_linear(event), event
        assert rule_set.classify(event) == rule_set.classify_linear(event), event
    started = time.perf_counter()
    for event in sample:
        rule_set.match_linear(event)
    linear_rate = len(sample) / (time.perf_counter() - started)

    match = rule_set.match
    started, cpu_started = time.perf_counter(), time.process_time()
    matched = sum(1 for event in events if match(event) is not None)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    classify = rule_set.classify
    cpu_started = time.process_time()
    classified = sum(1 for event in events if classify(event) is not None)
    classify_cpu = time.process_time() - cpu_started
    kinds = {kind: sum(1 for r in rules if r["match_type"] == kind) for kind in ("contains", "regex", "oid_prefix")}
    print(f"rules: {len(rule_set)} ({', '.join(f'{k} {v}' for k, v in kinds.items())}), compiled in {compile_ms:.0f} ms")
    print(f"rules checked against every event (regexes without a usable literal): {len(rule_set.unindexed)}")
    print(f"events: {len(events)}, matched: {matched} ({matched / len(events):.0%})")
    print(f"indexed match: {len(events) / cpu:,.0f} events/s per CPU second ({cpu / len(events) * 1e6:.2f} us/event); "
          f"{len(events) / elapsed:,.0f} events/s wall clock")
    print(f"classify:      {len(events) / classify_cpu:,.0f} events/s per CPU second "
          f"({classify_cpu / len(events) * 1e6:.2f} us/event; {classified} matched)")
    print(f"linear scan:   {linear_rate:,.0f} events/s (same answers on {len(sample)} events)")


if __name__ == "__main__":
    main()
