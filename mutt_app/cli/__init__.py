"""The `mutt` command. One module per command group; each lists its commands in COMMANDS.

A command's module is imported when that command runs (``COMMAND_MODULES``), so a process such as
`mutt listen` does not carry what the other commands import (alembic, argon2, the web server's
pieces): tests/unit/mutt_app/cli/test_commands.py checks the table against the modules' COMMANDS.
"""

from __future__ import annotations

import importlib
import sys

import click

from mutt_app.cli import common

COMMAND_MODULES = {
    "up": "run", "web": "run", "worker": "run", "beat": "run", "flower": "run", "moog-standin": "run",
    "listen": "listen",
    "db": "database",
    "user": "accounts", "apikey": "accounts",
    "config": "settings",
    "dlq": "dlq",
    "alerts": "alerts",
    "rules": "rules",
    "silence": "silence",
    "heartbeat": "heartbeats",
    "status": "ops", "send": "ops",
    "smoke": "checks", "validate": "checks",
}


class LazyGroup(common.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMAND_MODULES:
            return None
        module = importlib.import_module(f"mutt_app.cli.{COMMAND_MODULES[cmd_name]}")
        return next(command for command in module.COMMANDS if command.name == cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="mutt", prog_name="mutt")
def cli() -> None:
    """MUTT 3: network events in, alerts to Moogsoft out.

    Every command acts on the system that MUTT_HOME (or REDIS_URL and DATABASE_URL) points at.
    """


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="mutt", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except common.FRIENDLY_ERRORS as error:
        click.echo(f"Error: {common.explain(error)}", err=True)
        sys.exit(1)
