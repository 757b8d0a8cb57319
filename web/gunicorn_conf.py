"""gunicorn settings `mutt web` passes (bind, workers and threads come on its command line)."""

import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


worker_class = "gthread"
keepalive = 5
graceful_timeout = 20
accesslog = None
control_socket_disable = True
# Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads connections over the
# workers. With one shared socket, whichever worker wakes first accepts, and senders that keep
# their connections open (rsyslog, the load generator) pile onto one worker while others idle.
reuse_port = True
