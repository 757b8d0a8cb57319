"""mutt up | web | worker | beat: run MUTT, all in one or as separate processes."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import click

from mutt_app import config
from mutt_app.access import api_keys, users
from mutt_app.cli.common import celery_settings, start
from mutt_app.core import exporter
from mutt_app.operations import embedded_redis, supervisor
from mutt_app.rules import seed
from mutt_app.storage import migrate, redis_client
from mutt_app.storage.db import session_scope


def port_free(host: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def require_port(host: str, port: int, option: str = "--port", udp: bool = False) -> None:
    if not port_free(host, port) or (udp and not port_free(host, port, socket.SOCK_DGRAM)):
        raise click.ClickException(f"port {port} on {host} is already in use; choose another with {option}")


def prometheus_dir(settings: config.Settings) -> str:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(settings.home / "prometheus")
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


def web_server_command(app: str, host: str, port: int, workers: int, wsgi_threads: int | None = None) -> list[str]:
    """The granian command line `mutt web` runs (`mutt moog-standin` and bench/ingest.py's baseline
    use it too).

    granian does the HTTP in Rust; under gunicorn's Python HTTP handling a request cost more CPU
    than all of ingest's own work (docs/performance.md). Without ``wsgi_threads``, ``app`` is an
    RSGI app: `mutt web`'s front layer (web/front.py), which reads each body with a deadline
    before it takes one of WEB_THREADS app threads (ADR 0011). With it, ``app`` is a WSGI app
    called from that many threads per process, each held while its request's body arrives.
    """
    interface = (["--interface", "wsgi", "--blocking-threads", str(wsgi_threads)] if wsgi_threads
                 else ["--interface", "rsgi"])
    return [sys.executable, "-m", "granian", *interface, "--host", host, "--port", str(port),
            "--workers", str(workers), "--no-ws", "--no-access-log",
            "--respawn-failed-workers", "--workers-kill-timeout", "20", app]


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=lambda: config.number("WEB_CONCURRENCY"), type=int, help="Server processes.")
@click.option("--threads", default=lambda: config.number("WEB_THREADS"), type=int,
              help="Threads per process running the app.")
def web(host: str, port: int, workers: int, threads: int) -> None:
    """Serve ingest, the REST API and the UI under granian."""
    settings = start()  # a wrong setting stops here, in one line
    require_port(host, port)
    redis_client.get().ping()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = prometheus_dir(settings)
    os.environ["WEB_THREADS"] = str(threads)  # read by web.rsgi in each server process
    args = web_server_command("web.rsgi:app", host, port, workers)
    os.execv(args[0], args)


@click.command("worker")
@click.option("-Q", "--queues", default=lambda: ",".join(celery_settings().QUEUES), show_default="every queue",
              help="Comma-separated queues to consume.")
@click.option("-c", "--concurrency", default=lambda: config.number("WORKER_CONCURRENCY"), type=int, help="Pool processes.")
@click.option("-n", "--name", default="mutt@%h", show_default=True, help="Worker node name (unique per host).")
@click.option("--metrics-port", type=int, default=lambda: config.number("WORKER_METRICS_PORT") if config.env("WORKER_METRICS_PORT") else 0,
              help="Serve this worker's Prometheus metrics on http://ADDRESS:PORT/metrics.")
@click.option("--metrics-address", default=lambda: config.env("WORKER_METRICS_ADDRESS"), show_default="127.0.0.1")
def worker(queues: str, concurrency: int, name: str, metrics_port: int, metrics_address: str) -> None:
    """Run a Celery worker on the given queues."""
    settings = start()  # a wrong setting stops here, in one line
    known = celery_settings().QUEUES
    unknown = sorted(set(q.strip() for q in queues.split(",")) - set(known))
    if unknown:
        raise click.UsageError(f"unknown queue(s) {', '.join(unknown)}; MUTT's queues: {', '.join(known)}")
    redis_client.get().ping()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = prometheus_dir(settings)
    if metrics_port:
        # its own, emptied directory: served on its own port, never counted twice
        require_port(metrics_address, metrics_port)
        directory = exporter.worker_directory(prometheus_dir(settings), name)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(exporter.fresh_directory(directory))
        os.environ["WORKER_METRICS_PORT"], os.environ["WORKER_METRICS_ADDRESS"] = str(metrics_port), metrics_address
    args = [sys.executable, "-m", "celery", "-A", "mutt_app.celery_app", "worker", "-Q", queues,
            "-c", str(concurrency), "-n", name, "--loglevel", settings.log_level]
    os.execv(sys.executable, args)


@click.command("beat")
def beat() -> None:
    """Run celery beat (exactly one per MUTT installation): janitor and remediation schedules."""
    settings = start()  # a wrong setting stops here, in one line
    redis_client.get().ping()
    settings.home.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "celery", "-A", "mutt_app.celery_app", "beat",
            "-s", str(settings.home / "celerybeat-schedule"), "--loglevel", settings.log_level]
    os.execv(sys.executable, args)


def first_start(settings: config.Settings, admin_password: str | None) -> list[str]:
    """Migrate, and on a new installation seed v2.5's data, an admin (``admin_password``, or a
    generated one) and an ingest key."""
    lines = []
    migrate.upgrade()
    with session_scope() as session:
        if seed.load_if_empty(session):
            lines.append("loaded the v2.5 seed rules, development hosts and device teams")
        if users.count(session) == 0:
            password = admin_password or users.generate_password()
            users.create(session, "admin", password, "admin", actor="mutt up")
            shown = "from MUTT_ADMIN_PASSWORD" if admin_password else password
            lines.append(f"created user admin, password: {shown}  (shown once; change it in the UI)")
    key_file = settings.home / "ingest_api_key"
    if not key_file.exists():
        with session_scope() as session:
            _, secret = api_keys.create(session, "embedded ingest", ["ingest"], actor="mutt up")
        config.write_private(key_file, secret + "\n")
    return lines


def wait_until_serving(url: str, supervise, stopping, timeout: float = 60) -> bool:
    """Wait for the web server to answer /health, so "MUTT is up" is true when it is printed;
    ``supervise()`` meanwhile restarts a child that dies while starting."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping():
        supervise()
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answers (503 while a dependency warms up is still an answer)
        except OSError:
            time.sleep(0.2)
    if not stopping():
        click.echo(f"the web server did not answer on {url} within {timeout:.0f} s", err=True)
    return False


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for the web server (0.0.0.0 for all).")
@click.option("--port", default=8080, show_default=True, type=int, help="Port for ingest, API and UI.")
@click.option("--syslog-port", default=lambda: int(config.number("SYSLOG_PORT")), type=click.IntRange(0, 65535),
              show_default="5514", help="UDP and TCP port of the syslog listener (`mutt listen`); 0: none.")
@click.option("--trap-port", default=lambda: int(config.number("TRAP_PORT")), type=click.IntRange(0, 65535),
              show_default="1162", help="UDP port of the SNMP trap listener; 0: none.")
def up(host: str, port: int, syslog_port: int, trap_port: int) -> None:
    """Run everything on this machine: web, a worker on every queue, beat, and the syslog and
    SNMP trap listener (on HOST, taking messages from LISTEN_SOURCES, by default this machine only).

    With no REDIS_URL it starts an embedded Redis (data in MUTT_HOME, append-only file on);
    with no DATABASE_URL it uses SQLite in MUTT_HOME. A process that dies is started again
    (`mutt status` counts the restarts); one that keeps dying stops it all. Ctrl-C stops it all.
    """
    admin_password = os.environ.pop("MUTT_ADMIN_PASSWORD", None)  # read here, never passed on to a child
    settings = start()  # a wrong setting stops here, before anything starts
    require_port(host, port)
    if syslog_port:
        require_port(host, syslog_port, "--syslog-port", udp=True)
    if trap_port and not port_free(host, trap_port, socket.SOCK_DGRAM):
        raise click.ClickException(f"port {trap_port} on {host} is already in use; choose another with --trap-port")
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    logs = settings.home / "logs"
    logs.mkdir(exist_ok=True)
    started = time.monotonic()
    children = supervisor.Supervisor(settings.home / supervisor.RESTARTS_FILE)
    if settings.embedded_redis:
        children.start("redis", lambda: embedded_redis.start(settings.home), settings.home / "redis.log",
                       stop_last=True)
    stopping = False

    def request_stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    def supervise() -> None:
        for note in children.check():
            click.echo(note, err=True)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code = 0
    try:
        notes = first_start(settings, admin_password)
        env = dict(os.environ, MUTT_HOME=str(settings.home), REDIS_URL=settings.redis_url,
                   DATABASE_URL=settings.database_url)
        env.setdefault("SESSION_COOKIE_SECURE", "false" if host in ("127.0.0.1", "localhost") else "true")
        prom = Path(prometheus_dir(settings))
        shutil.rmtree(prom, ignore_errors=True)
        prom.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
        me = [sys.executable, "-m", "mutt_app.cli"]
        processes = [("web", ["web", "--host", host, "--port", str(port)]),
                     ("worker", ["worker", "-n", "mutt-embedded@%h"]), ("beat", ["beat"])]
        if syslog_port or trap_port:
            processes.append(("listen", ["listen", "--host", host, "--syslog-port", str(syslog_port),
                                         "--trap-port", str(trap_port)]))
        for name, args in processes:
            log = logs / f"{name}.log"
            children.start(name, functools.partial(supervisor.spawn, me + args, env, log), log)
        url = f"http://{host}:{port}"
        for note in notes:  # before anything can fail: a generated password is shown only now
            click.echo(note)
        serving = wait_until_serving(url, supervise, lambda: stopping)
        if not serving and not stopping:
            code = 1
        if serving:
            click.echo(f"MUTT is up ({time.monotonic() - started:.1f} s). Ctrl-C stops it.")
            click.echo(f"  web UI         {url}/")
            click.echo(f"  ingest         POST {url}/api/v2/ingest  (header X-API-KEY)")
            click.echo(f"  ingest API key {(settings.home / 'ingest_api_key').read_text().strip()}")
            if syslog_port:
                click.echo(f"  syslog         udp and tcp {host}:{syslog_port}  (RFC 5424/3164; LF or octet-counted)")
            if trap_port:
                click.echo(f"  snmp traps     udp {host}:{trap_port}  (v1, v2c, INFORM; communities TRAP_COMMUNITIES)")
            click.echo(f"  health         {url}/health    metrics {url}/metrics")
            click.echo(f"  data and logs  {settings.home}")
            while not stopping:
                supervise()
                time.sleep(0.2)
    except supervisor.CrashLoop as error:
        click.echo(f"Error: {error}", err=True)
        code = 1
    finally:
        click.echo("stopping ...")
        children.stop()
    click.echo("stopped")
    sys.exit(code)


COMMANDS = [up, web, worker, beat]


@click.command("flower")
@click.option("--port", default=5555, show_default=True, type=int)
@click.option("--address", default="127.0.0.1", show_default=True)
def flower(port: int, address: str) -> None:
    """Run Flower against MUTT's broker, every view (also /metrics and /healthcheck) behind the
    FLOWER_BASIC_AUTH user:password."""
    from mutt_app.cli.flower import credentials_problem  # here: `python -m mutt_app.cli.flower` must find it unimported

    problem = credentials_problem(config.env("FLOWER_BASIC_AUTH"))
    if problem:
        raise click.ClickException(problem)
    require_port(address, port)
    redis_client.get().ping()
    # Flower reads FLOWER_BASIC_AUTH from the environment itself; on a command line `ps` would show it.
    args = [sys.executable, "-m", "mutt_app.cli.flower", f"--port={port}", f"--address={address}"]
    os.execv(sys.executable, args)


COMMANDS.append(flower)


STANDIN_THREADS = 8


@click.command("moog-standin")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=18080, show_default=True, type=int)
def moog_standin(host: str, port: int) -> None:
    """Run an HTTP stand-in for Moogsoft that records what MUTT sends (trials, tests, benchmarks)."""
    require_port(host, port)
    click.echo(f"Moogsoft stand-in on http://{host}:{port}/events (GET /_received, POST /_control)", err=True)
    # One process, so that every request lands in the one record; threads for delayed answers.
    args = web_server_command("mutt_app.tools.moog_standin:app", host, port, workers=1, wsgi_threads=STANDIN_THREADS)
    os.execv(args[0], args)


COMMANDS.append(moog_standin)
