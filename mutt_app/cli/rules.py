"""mutt rules export | import: the rule book (rules, development hosts, device teams) as YAML."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mutt_app.cli.settings import cli_actor
from mutt_app.rules import as_code
from mutt_app.storage.db import session_scope


@click.group("rules")
def rules_group() -> None:
    """Rules, development hosts and device teams as code (YAML)."""


@rules_group.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write to this file instead of standard output.")
def rules_export(output: Path | None) -> None:
    """Write the rule book as YAML."""
    with session_scope() as session:
        text = as_code.export(session)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@rules_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before changing.")
@click.option("--reason", default="", help="Recorded with every change in the config audit.")
def rules_import(path: Path, dry_run: bool, yes: bool, reason: str) -> None:
    """Make the rule book equal to PATH: shows the changes, then applies them in one transaction,
    each validated and audited. Rules are matched by id, else by name; unmatched ones are created; stored rules not listed are deleted."""
    try:
        document = as_code.parse(as_code.read(path))
        with session_scope() as session:
            changes = as_code.plan(session, document)
            if not changes:
                click.echo("no changes: the rule book already matches " + str(path))
                return
            for change in changes:
                click.echo(change.describe())
            counts = {action: sum(1 for c in changes if c.action == action) for action in ("create", "update", "delete")}
            click.echo(f"{len(changes)} changes: {counts['create']} to create, {counts['update']} to update, "
                       f"{counts['delete']} to delete")
            if dry_run:
                click.echo("dry run: nothing changed")
                return
            if not yes:
                click.confirm("Apply these changes?", abort=True, err=True)
            with click.progressbar(length=len(changes), label="importing", file=sys.stderr) as bar:
                as_code.apply(session, changes, actor=cli_actor(), reason=reason or f"mutt rules import {path.name}",
                                    progress=lambda _change: bar.update(1))
    except (as_code.DocumentError, LookupError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"imported: {len(changes)} changes applied and audited")


COMMANDS = [rules_group]
