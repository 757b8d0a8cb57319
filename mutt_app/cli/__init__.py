"""The `mutt` command. One module per command group; each lists its commands in COMMANDS."""

from __future__ import annotations

import sys

import click

from mutt_app.cli import accounts, checks, common, database, dlq, listen, ops, rules, run, settings


@click.group(cls=common.Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="mutt", prog_name="mutt")
def cli() -> None:
    """MUTT 3: network events in, alerts to Moogsoft out.

    Every command acts on the system that MUTT_HOME (or REDIS_URL and DATABASE_URL) points at.
    """


for _module in (run, listen, database, accounts, settings, dlq, rules, ops, checks):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


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
