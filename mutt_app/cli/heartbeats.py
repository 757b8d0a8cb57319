"""mutt heartbeat add|list|remove: sources that must be heard from every interval (domain:
mutt_app/operations/heartbeats.py)."""

from __future__ import annotations

import click

from mutt_app.cli.settings import cli_actor
from mutt_app.operations import heartbeats
from mutt_app.storage import redis_client
from mutt_app.storage.db import session_scope


@click.group("heartbeat")
def heartbeat() -> None:
    """Heartbeats: alert when a device or a sender falls quiet for longer than its interval."""


@heartbeat.command("add")
@click.option("--host", "hostname", help="A device: its events' hostname.")
@click.option("--source", help="A sender: an API key's or a listener source's name.")
@click.option("--every", "interval_seconds", required=True, type=int,
              help=f"Seconds it may be quiet ({heartbeats.MIN_INTERVAL} to {heartbeats.MAX_INTERVAL}).")
@click.option("--severity", default=heartbeats.DEFAULT_SEVERITY, show_default=True, type=int,
              help="Moogsoft severity of the alert, 1-5.")
@click.option("--comment", required=True, help="Why it is watched (shown with the heartbeat).")
def add(hostname: str | None, source: str | None, interval_seconds: int, severity: int, comment: str) -> None:
    """Watch a device (--host) or a sender (--source)."""
    fields = {"hostname": hostname, "source": source, "interval_seconds": interval_seconds, "severity": severity,
              "comment": comment}
    with session_scope() as session:
        row = heartbeats.create(session, fields, actor=cli_actor(), reason=comment)
        heartbeat_id, name = row.id, row.name
    click.echo(f"heartbeat {heartbeat_id}: {name} must be heard from every {interval_seconds} s")


@heartbeat.command("list")
def list_() -> None:
    """Every heartbeat, with when its source was last heard from and whether it is quiet."""
    with session_scope() as session:
        rows = heartbeats.list_all(session)
        shown = [heartbeats.to_dict(row, seen) for row, seen in
                 zip(rows, heartbeats.last_seen(redis_client.get(), rows), strict=True)]
    if not shown:
        click.echo("no heartbeats")
        return
    click.echo(f"{'ID':>5}  {'KIND':8}  {'NAME':30}  {'EVERY':>7}  {'SEV':>3}  {'STATE':6}  LAST SEEN")
    for h in shown:
        state = "QUIET" if h["quiet"] else "ok"
        click.echo(f"{h['id']:>5}  {h['kind']:8}  {h['name'][:30]:30}  {h['interval_seconds']:>6}s  {h['severity']:>3}  "
                   f"{state:6}  {h['last_seen'] or 'never (since it was added or MUTT started)'}")


@heartbeat.command("remove")
@click.argument("heartbeat_id", type=int)
@click.option("--reason", default="", help="Why (kept in the config audit).")
def remove(heartbeat_id: int, reason: str) -> None:
    """Stop watching a source."""
    with session_scope() as session:
        heartbeats.remove(session, heartbeat_id, actor=cli_actor(), reason=reason)
    click.echo(f"heartbeat {heartbeat_id} removed")


COMMANDS = [heartbeat]
