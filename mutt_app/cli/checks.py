"""mutt smoke | validate: check a running MUTT from the outside (see docs/operator-validation.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mutt_app.tools import checks

_MARK = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}


def _print(result: checks.Result) -> None:
    click.echo(f"[{_MARK[result.status]}] {result.name} ({result.seconds:.1f} s): {result.detail}")


def _finish(results: list[checks.Result]) -> None:
    failed = [r.name for r in results if r.status == "failed"]
    counts = {status: sum(r.status == status for r in results) for status in ("passed", "skipped", "failed")}
    click.echo(", ".join(f"{n} {status}" for status, n in counts.items()) + (f": {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


@click.command("smoke")
@click.argument("url")
@click.option("--key", envvar="MUTT_SMOKE_KEY", required=True, help="An API key with the ingest scope (or env MUTT_SMOKE_KEY).")
@click.option("--moog-standin", "moog_url", help="URL of a Moogsoft stand-in's /events: also check an alert reaches it.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the event to be processed.")
def smoke(url: str, key: str, moog_url: str | None, timeout: float) -> None:
    """Check a deployed MUTT at URL end to end: health, one event ingested and processed.

    The event is tagged with a unique marker and matches no rule, so it is counted as unhandled
    and never reaches Moogsoft; with --moog-standin an event a seed rule forwards is sent too.
    """
    stack = checks.Stack(url, ingest_key=key, moog_url=moog_url, timeout=timeout)
    _finish(checks.run(stack, checks.SMOKE, _print))


@click.command("validate")
@click.argument("url")
@click.option("--ingest-key", envvar="MUTT_INGEST_KEY", required=True, help="API key with the ingest scope (or env MUTT_INGEST_KEY).")
@click.option("--admin-key", envvar="MUTT_ADMIN_KEY", required=True, help="API key with the admin scope (or env MUTT_ADMIN_KEY).")
@click.option("--logs", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the processes' logs (`mutt up`: MUTT_HOME/logs); without it the log checks are skipped.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the results as Markdown here.")
@click.option("--note", default="", help="How the stack under test runs, recorded with the results.")
@click.option("--timeout", default=60.0, show_default=True)
def validate(url: str, ingest_key: str, admin_key: str, logs: Path | None, out: Path | None, note: str, timeout: float) -> None:
    """Run the operator validation (docs/operator-validation.md) against the MUTT at URL.

    Changes runtime settings while it runs and puts each back as it was.
    """
    stack = checks.Stack(url, ingest_key=ingest_key, admin_key=admin_key, logs=logs, timeout=timeout)
    results = checks.run(stack, checks.VALIDATE, _print)
    if out:
        out.write_text(checks.markdown(stack, results, "Operator validation results", note))
        click.echo(f"results written to {out}")
    _finish(results)


COMMANDS = [smoke, validate]
