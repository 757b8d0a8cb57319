"""mutt db ..."""

from __future__ import annotations

import click

from mutt_app.storage import migrate


@click.group("db")
def db() -> None:
    """Database schema: apply or roll back migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION and make the next months' audit partitions (PostgreSQL)."""
    migrate.upgrade(revision=revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Roll back to REVISION ('base' drops every table: all data is lost)."""
    migrate.downgrade(revision=revision)
    click.echo(f"database at {revision}")


COMMANDS = [db]
