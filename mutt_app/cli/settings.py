"""mutt config list | get | set | unset: runtime settings, through the same code as the API and UI."""

from __future__ import annotations

import getpass
import json

import click

from mutt_app import dynconfig
from mutt_app.storage.db import session_scope


def cli_actor() -> str:
    """How the config audit names a command-line change: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _shown(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


@click.group("config")
def config_group() -> None:
    """Runtime settings: changed while MUTT runs, seen by every process within a second."""


@config_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document, for scripts.")
def config_list(as_json: bool) -> None:
    """Every runtime setting with its value; * marks values set away from the default."""
    rows = dynconfig.describe(None)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(row["key"]) for row in rows)
    for row in rows:
        mark = "*" if row["overridden"] else " "
        default = "" if not row["overridden"] else f"  (default {_shown(row['default'])})"
        click.echo(f"{mark} {row['key']:{width}}  {_shown(row['value'])}{default}  [{','.join(row['readers'])}]")


@config_group.command("get")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="The whole description as JSON.")
def config_get(key: str, as_json: bool) -> None:
    """Show one setting: value, default, bounds, who reads it."""
    row = dynconfig.describe(key)[0]
    if as_json:
        click.echo(json.dumps(row, indent=2))
        return
    click.echo(f"{row['key']} = {_shown(row['value'])}{'' if row['overridden'] else ' (default)'}")
    click.echo(f"  type {row['type']}, default {_shown(row['default'])}", nl=False)
    if row["choices"]:
        click.echo(f", one of {', '.join(row['choices'])}", nl=False)
    if row["minimum"] is not None:
        click.echo(f", from {row['minimum']:g} to {row['maximum']:g}", nl=False)
    click.echo(f"\n  read by {', '.join(row['readers'])}\n  {row['description']}")


def _change(key: str, raw: str | None, reason: str) -> None:
    with session_scope() as session:
        old, new = dynconfig.change(session, key, raw, actor=cli_actor(), reason=reason)
    verb = "reset to default" if raw is None else "set"
    click.echo(f"{key} {verb}: {_shown(old)} -> {_shown(new)} (every process within a second)")


@config_group.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--reason", default="", help="Why; recorded in the config audit.")
def config_set(key: str, value: str, reason: str) -> None:
    """Set KEY to VALUE (checked against its type and bounds; audited)."""
    _change(key, value, reason)


@config_group.command("unset")
@click.argument("key")
@click.option("--reason", default="", help="Why; recorded in the config audit.")
def config_unset(key: str, reason: str) -> None:
    """Return KEY to its default (audited)."""
    _change(key, None, reason)


COMMANDS = [config_group]
