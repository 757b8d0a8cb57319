"""mutt listen: receive syslog and SNMP traps natively and queue them like HTTP ingest."""

from __future__ import annotations

import asyncio
import ssl

import click

from mutt_app import config
from mutt_app.cli.common import start
from mutt_app.core import logs
from mutt_app.listeners import server
from mutt_app.listeners.sources import Sources


def sources_setting() -> Sources:
    try:
        return Sources.parse(config.env("LISTEN_SOURCES") or "")
    except ValueError as error:
        raise config.ConfigurationError(f"LISTEN_SOURCES: {error}") from None


def tls_setting() -> tuple[int, ssl.SSLContext | None]:
    """The syslog TLS port and the server context, when SYSLOG_TLS_CERT and SYSLOG_TLS_KEY are set."""
    cert, key = config.env("SYSLOG_TLS_CERT"), config.env("SYSLOG_TLS_KEY")
    port = int(config.number("SYSLOG_TLS_PORT"))
    if (not cert and not key) or not port:
        return 0, None
    if not cert or not key:
        raise config.ConfigurationError("SYSLOG_TLS_CERT and SYSLOG_TLS_KEY: set both, or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise config.ConfigurationError(f"SYSLOG_TLS_CERT/SYSLOG_TLS_KEY: cannot load them ({error})") from None
    return port, context


@click.command("listen")
@click.option("--host", default=lambda: config.env("LISTEN_ADDRESS"), show_default="127.0.0.1",
              help="Address to receive on (0.0.0.0 for all).")
@click.option("--syslog-port", default=lambda: int(config.number("SYSLOG_PORT")), type=click.IntRange(0, 65535),
              show_default="5514", help="UDP and TCP syslog port; 0: none.")
@click.option("--trap-port", default=lambda: int(config.number("TRAP_PORT")), type=click.IntRange(0, 65535),
              show_default="1162", help="UDP port for SNMP traps and INFORMs; 0: none.")
def listen(host: str, syslog_port: int, trap_port: int) -> None:
    """Receive syslog over UDP and TCP (LF or octet-counted framing), over TLS when SYSLOG_TLS_CERT
    and SYSLOG_TLS_KEY are set (RFC 5425, on SYSLOG_TLS_PORT), and SNMP v1/v2c traps and
    INFORMs (TRAP_COMMUNITIES) from the LISTEN_SOURCES networks, and queue each message as an
    event through the same accept path as HTTP ingest. SIGTERM stops reading, queues what was
    read and exits."""
    from mutt_app import handoff  # imports Celery: only when the command runs

    start()  # a wrong setting stops here, in one line
    sources = sources_setting()
    pending_limit = int(config.number("LISTEN_BUFFER"))
    drain_seconds = float(config.number("LISTEN_DRAIN_SECONDS", float))
    tls_port, tls_context = tls_setting()
    communities = frozenset(part.strip() for part in (config.env("TRAP_COMMUNITIES") or "").split(",") if part.strip())
    if not syslog_port and not trap_port and not tls_port:
        raise click.UsageError("nothing to listen on: --syslog-port and --trap-port are 0")
    logs.configure()
    ingest = handoff.ingest()
    ingest.buffer.redis.ping()
    ingest.ensure_flusher()

    def ready(lines: list[str]) -> None:
        names = ", ".join(f"{source.name} ({', '.join(map(str, source.networks))})" for source in sources.sources)
        click.echo(f"mutt listen: {'; '.join(lines)}; sources {names}", err=True)

    ports = server.Ports(host, syslog_port, trap_port, communities, tls_port, tls_context)
    lost = asyncio.run(server.serve(ingest, ports, sources, pending_limit=pending_limit,
                                   drain_seconds=drain_seconds, ready=ready))
    ingest.stop_flusher()
    if lost:
        raise click.ClickException(f"stopped; {lost} message(s) read could not be queued")
    click.echo("mutt listen: stopped", err=True)


COMMANDS = [listen]
