"""`mutt listen` throughput: syslog over TCP and UDP, SNMP traps, and the listener's memory.

    python bench/listeners.py --redis-url redis://127.0.0.1:6379/13

Starts one `mutt listen` process against ``--redis-url`` (a scratch Redis DB, flushed before and
after) and a scratch SQLite database, with the ingest rate limit off and no alerter running: the
numbers are for receiving, parsing and queueing (``Ingest.submit``) alone. The load comes from
separate processes (multiprocessing), so the senders do not share the listener's GIL.

Scenarios:
- tcp: ``--tcp-lines`` RFC 3164 lines over ``--tcp-connections`` connections, LF framing, as fast as
  TCP lets them go; lines/s = lines / (time until the last one is queued).
- udp at ``--udp-rate``: datagrams paced for ``--seconds``; every one must be queued (0 drops).
- udp flood: ``--flood`` datagrams as fast as one sender can; above capacity every datagram must
  be queued or counted as dropped (the listener's and the kernel's drops), exactly.
- traps at ``--trap-rate``: SNMPv2c linkDown traps paced for ``--seconds`` (0 drops), then a trap
  flood for the ceiling.
- RSS: the listener's resident memory, sampled while it works, and its high-water mark.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# snmptrap -v 2c -c public HOST '' 1.3.6.1.6.3.1.1.5.3 ifIndex.2 i 2 ifDescr.2 s GigabitEthernet0/2 sysName.0 s core-rtr-1
TRAP = bytes.fromhex(
    "30819102010104067075626c6963a7818302047efd84aa0201000201003075300f06082b060102010103004303033a4b"
    "3017060a2b06010603010104010006092b0601060301010503300f060a2b0601020102020101020201023020060a2b06"
    "010201020201020204124769676162697445746865726e6574302f32301606082b06010201010500040a636f72652d72"
    "74722d31"
)


def syslog_line(i: int) -> bytes:
    return b"<187>Dec  3 21:00:00 core-rtr-%d %%LINK-3-UPDOWN: Interface GigabitEthernet0/%d, changed state to down" % (
        i % 500, i % 48)


def send_tcp(port: int, first: int, count: int) -> None:
    payload = b"".join(syslog_line(i) + b"\n" for i in range(first, first + count))
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(payload)


def send_paced(port: int, datagrams: list[bytes], rate: float, seconds: float) -> int:
    """Send at ``rate`` per second for ``seconds`` (a slice every millisecond); returns how many."""
    sent = 0
    total = int(rate * seconds)
    started = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        address = ("127.0.0.1", port)
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                sock.sendto(datagrams[sent % len(datagrams)], address)
                sent += 1
            time.sleep(0.001)
    return sent


def send_flood(port: int, datagrams: list[bytes], count: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        address = ("127.0.0.1", port)
        for i in range(count):
            sock.sendto(datagrams[i % len(datagrams)], address)


def run_sender(target, *args):
    process = multiprocessing.Process(target=target, args=args)
    process.start()
    return process


class Listener:
    def __init__(self, redis_url: str, home: Path) -> None:
        import redis

        from tests.support.processes import free_port, mutt, mutt_env

        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.redis.flushdb()
        self.syslog_port, self.trap_port = free_port(), free_port()
        env = mutt_env(redis_url, f"sqlite:///{home / 'bench.db'}", home, LOG_LEVEL="WARNING", LOG_FORMAT="text",
                       SYSLOG_PORT=str(self.syslog_port), TRAP_PORT=str(self.trap_port), LISTEN_SOURCES="local=127.0.0.0/8")
        os.environ.update(env)
        from mutt_app import config, dynconfig
        from mutt_app.storage import migrate
        from mutt_app.storage.db import session_scope

        config.reset()
        migrate.upgrade()
        with session_scope() as session:
            dynconfig.change(session, "ingest_rate_limit", 0, actor="bench", reason="measure the listener, not the limiter")
            dynconfig.change(session, "max_ingest_queue_size", 100_000_000, actor="bench", reason="no alerter runs")
        self.log = open(home / "listen.log", "wb")
        self.process = subprocess.Popen(mutt("listen"), env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while b"mutt listen:" not in (home / "listen.log").read_bytes():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError((home / "listen.log").read_text())
            time.sleep(0.1)

    def accepted(self) -> int:
        return int(self.redis.hget("mutt:stats", "accepted") or 0)

    def counters(self, listener: str) -> dict[str, int]:
        from mutt_app.operations import status

        return status.listeners(self.redis).get(listener, {"received": 0, "dropped": 0, "denied": 0})

    def wait_accepted(self, expected: int, quiet: float = 5.0, timeout: float = 300) -> float:
        """Wait until ``expected`` events are accepted (or nothing moved for ``quiet`` s, what is held
        back being dropped): when the last came."""
        last, moved_at = self.accepted(), time.monotonic()
        deadline = time.monotonic() + timeout
        while last < expected and time.monotonic() - moved_at < quiet and time.monotonic() < deadline:
            time.sleep(0.005)
            self.sample_rss()
            now = self.accepted()
            if now != last:
                last, moved_at = now, time.monotonic()
        return moved_at

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mb(self, field: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    def sample_rss(self) -> None:
        self.max_rss = max(getattr(self, "max_rss", 0.0), self.memory_mb())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)
        self.log.close()
        self.redis.flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="scratch Redis DB (flushed)")
    parser.add_argument("--tcp-lines", type=int, default=400_000)
    parser.add_argument("--tcp-connections", type=int, default=4)
    parser.add_argument("--udp-rate", type=float, default=10_000)
    parser.add_argument("--trap-rate", type=float, default=5_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each paced scenario")
    parser.add_argument("--flood", type=int, default=200_000, help="datagrams in each flood")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mutt-bench-listeners-") as scratch:
        listener = Listener(args.redis_url, Path(scratch))
        try:
            time.sleep(1.0)
            idle_rss = listener.memory_mb()
            rows = []

            def measured(name: str, expected: int, senders: list, started: float, cpu: float, listener_name: str,
                         baseline: dict, paced: int | None = None) -> None:
                for sender in senders:
                    sender.join()
                done = listener.wait_accepted(listener.accepted_before + expected)
                accepted = listener.accepted() - listener.accepted_before
                time.sleep(1.2)  # the counters are written once a second
                counts = listener.counters(listener_name)
                dropped = counts["dropped"] - baseline["dropped"]
                seconds = done - started
                rows.append((name, expected, accepted, dropped, accepted / seconds, (listener.cpu_seconds() - cpu) / seconds))
                print(f"{name:28} sent {expected:>8}  queued {accepted:>8}  dropped {dropped:>7}  "
                      f"{accepted / seconds:>9,.0f}/s  listener CPU {(listener.cpu_seconds() - cpu) / seconds:.2f} cores"
                      + ("" if accepted + dropped == expected else "  (NOT ALL ACCOUNTED FOR)"), flush=True)
                if accepted + dropped != expected:
                    print((Path(scratch) / "listen.log").read_text()[-3000:], flush=True)

            def scenario(name, listener_name, expected, senders_args):
                listener.accepted_before = listener.accepted()
                baseline = listener.counters(listener_name)
                cpu, started = listener.cpu_seconds(), time.monotonic()
                senders = [run_sender(*sender) for sender in senders_args]
                measured(name, expected, senders, started, cpu, listener_name, baseline)

            share = args.tcp_lines // args.tcp_connections
            scenario(f"syslog tcp ({args.tcp_connections} connections)", "syslog-tcp", share * args.tcp_connections,
                     [(send_tcp, listener.syslog_port, n * share, share) for n in range(args.tcp_connections)])
            lines = [syslog_line(i) for i in range(1000)]
            scenario(f"syslog udp at {args.udp_rate:,.0f}/s", "syslog-udp", int(args.udp_rate * args.seconds),
                     [(send_paced, listener.syslog_port, lines, args.udp_rate, args.seconds)])
            scenario("syslog udp flood", "syslog-udp", args.flood, [(send_flood, listener.syslog_port, lines, args.flood)])
            scenario(f"snmp traps at {args.trap_rate:,.0f}/s", "snmp-trap", int(args.trap_rate * args.seconds),
                     [(send_paced, listener.trap_port, [TRAP], args.trap_rate, args.seconds)])
            scenario("snmp trap flood", "snmp-trap", args.flood // 2, [(send_flood, listener.trap_port, [TRAP], args.flood // 2)])
            print(f"listener RSS: {idle_rss:.0f} MB idle (before the first scenario), at most {listener.max_rss:.0f} MB "
                  f"while loaded (sampled), {listener.memory_mb():.0f} MB after; VmHWM {listener.memory_mb('VmHWM'):.0f} MB "
                  f"(the peak); load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
        finally:
            listener.stop()


if __name__ == "__main__":
    main()
