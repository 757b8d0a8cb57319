"""Syslog from real senders — util-linux `logger` and Debian's rsyslog relaying with omfwd — into
a real `mutt listen`, a Celery worker, PostgreSQL and Redis. Counted as tests/integration/
test_pipeline.py counts: every line sent ends audited, unhandled or dead-lettered."""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from mutt_app.operations import status
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import DeadLetter, EventAudit
from tests.integration.listeners.conftest import MARK, settled
from tests.support.processes import Process, free_port, wait_until

pytestmark = pytest.mark.integration

CONTRIB = Path(__file__).resolve().parents[3] / "contrib" / "rsyslog" / "60-mutt-omfwd.conf"


def logger(port: int, *options: str, lines: list[str]) -> None:
    subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), "-t", "mutt-test", *options],
                   input="\n".join(lines) + "\n", text=True, check=True, timeout=30)


def audited_messages() -> dict[str, dict]:
    with session_scope() as session:
        return {row.event["message"]: row.event for row in session.scalars(select(EventAudit))}


def test_logger_rfc5424_tcp_rfc3164_udp_octet_counted_and_garbage_are_all_counted(listening):
    port, redis, run = listening["port"], listening["redis"], uuid.uuid4().hex[:8]
    tcp = [f"{MARK} {run} rfc5424 over tcp {i}" for i in range(200)]
    udp = [f"{MARK} {run} rfc3164 over udp {i}" for i in range(50)]
    octets = [f"{MARK} {run} octet counted {i}" for i in range(100)]
    logger(port, "-T", "--rfc5424", "-p", "local7.err", lines=tcp)
    logger(port, "-d", "--rfc3164", "-p", "user.warning", lines=udp)
    logger(port, "-T", "--octet-count", "--rfc5424", "-p", "daemon.notice", lines=octets)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.sendto(b"not syslog at all \xff", ("127.0.0.1", port))  # no <PRI>: a dead letter, raw kept
    sent = len(tcp) + len(udp) + len(octets) + 1

    counts = wait_until(lambda: settled(redis, sent), timeout=120, message="every line processed")
    assert (counts["accepted"], counts["rejected"]) == (sent - 1, 1)
    assert counts["audited"] == sent - 1
    expected = {"syslog-tcp": {"received": 300, "dropped": 0, "denied": 0},
                "syslog-udp": {"received": 51, "dropped": 0, "denied": 0}}
    wait_until(lambda: status.listeners(redis) == expected, timeout=5, message="the counters written (once a second)")
    events = audited_messages()
    assert set(tcp + udp + octets) <= set(events)
    first = events[tcp[0]]
    assert (first["syslog_severity"], first["facility"], first["program"], first["syslog_format"]) == \
        (3, "local7", "mutt-test", "rfc5424")
    assert first["hostname"] == socket.gethostname() and first["_key"] == "local" and first["_source"] == "syslog"
    assert (events[udp[0]]["syslog_severity"], events[udp[0]]["syslog_format"]) == (4, "rfc3164")
    assert events[octets[-1]]["facility"] == "daemon"
    with session_scope() as session:
        letters = wait_until(lambda: list(session.scalars(select(DeadLetter).where(DeadLetter.kind == "event"))),
                             message="the rejected line stored as a dead letter")
    assert [letter.payload["raw"] for letter in letters] == ["not syslog at all \\xff"]
    assert letters[0].payload["raw_base64"]


@pytest.mark.skipif(shutil.which("rsyslogd") is None, reason="rsyslog is not installed (.ci/run installs it)")
def test_rsyslog_relays_with_omfwd_from_contrib_and_nothing_is_lost(listening):
    port, redis, tmp, run = listening["port"], listening["redis"], listening["tmp"], uuid.uuid4().hex[:8]
    relay_port = free_port()
    spool = tmp / "spool"
    spool.mkdir()
    forward = CONTRIB.read_text().replace('target="mutt.example.com" port="514"', f'target="127.0.0.1" port="{port}"') \
        .replace("/var/spool/rsyslog", str(spool))
    assert str(port) in forward and str(spool) in forward  # the contrib file is the one used, only re-pointed
    (tmp / "60-mutt-omfwd.conf").write_text(forward)
    (tmp / "rsyslog.conf").write_text(
        f'global(workDirectory="{spool}")\n'
        'module(load="imtcp")\n'
        f'input(type="imtcp" port="{relay_port}" address="127.0.0.1")\n'
        f'include(file="{tmp / "60-mutt-omfwd.conf"}")\n')
    check = subprocess.run(["rsyslogd", "-N1", "-f", str(tmp / "rsyslog.conf")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    relay = Process("rsyslogd", ["rsyslogd", "-n", "-f", str(tmp / "rsyslog.conf"), "-i", str(tmp / "rsyslogd.pid")],
                    {"PATH": "/usr/sbin:/usr/bin:/bin"}, tmp)
    try:
        wait_until(lambda: _accepts(relay_port), timeout=20, message="rsyslog listening")
        lines = [f"{MARK} {run} relayed by rsyslog {i}" for i in range(500)]
        logger(relay_port, "-T", "--rfc3164", "-p", "local3.crit", lines=lines)
        counts = wait_until(lambda: settled(redis, len(lines)), timeout=120, message="every relayed line processed")
    finally:
        relay.stop()
    assert counts["accepted"] == counts["audited"] == len(lines)
    events = audited_messages()
    assert set(lines) <= set(events)
    event = events[lines[0]]
    assert (event["syslog_severity"], event["facility"], event["program"], event["syslog_format"]) == \
        (2, "local3", "mutt-test", "rfc5424")
    assert event["hostname"] == socket.gethostname()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
