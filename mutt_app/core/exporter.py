"""A worker's Prometheus endpoint: the counters and histograms of all its pool processes.

Prefork pool processes each write their metrics to files in PROMETHEUS_MULTIPROC_DIR; the
worker's main process serves the sum of those files on its own port (``mutt worker
--metrics-port``). The directory must belong to this one worker and be emptied before it starts,
or a restarted worker would report its predecessor's counts twice.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

from prometheus_client import CollectorRegistry, multiprocess, start_http_server


def worker_directory(base: str, node_name: str) -> Path:
    """A directory under ``base`` for one worker node (``%h`` expanded as Celery does)."""
    name = node_name.replace("%h", socket.gethostname()).replace("%n", node_name.split("@")[0])
    return Path(base) / ("worker-" + re.sub(r"[^A-Za-z0-9_.@-]", "_", name))


def fresh_directory(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def serve(port: int, address: str) -> None:
    """Serve PROMETHEUS_MULTIPROC_DIR's metrics at http://address:port/metrics (a daemon thread)."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=address, registry=registry)


def process_exited(pid: int | None = None) -> None:
    """Drop a finished pool process's live gauges (its counters stay: they were counted)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())
