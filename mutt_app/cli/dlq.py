"""mutt dlq list|show|replay|purge: dead letters from the command line (domain: mutt_app/dead_letters/dlq.py,
mutt_app/remediation/replay.py)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from mutt_app.dead_letters import dlq as store
from mutt_app.remediation.replay import replay as replay_dead_letters
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import DEAD_LETTER_STATES

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar  # what click.progressbar returns

CLI_ACTOR = "cli"

_filters = [
    click.option("--kind", type=click.Choice((store.EVENT, store.ALERT)), help="Events or alerts."),
    click.option("--cause", type=click.Choice(store.REASONS), help="Why it became a dead letter (its reason)."),
    click.option("--state", type=click.Choice(DEAD_LETTER_STATES), help="waiting, replayed or poison."),
]


def filters(command):
    for option in reversed(_filters):
        command = option(command)
    return command


@click.group("dlq")
def dlq() -> None:
    """Dead letters: events and alerts MUTT could not process, kept with the reason."""


@dlq.command("list")
@filters
@click.option("--page", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, store.MAX_PAGE_SIZE))
def list_(kind, cause, state, page, limit) -> None:
    """List dead letters, most recent failure first."""
    with session_scope() as session:
        result = store.list_dead_letters(session, kind=kind, reason=cause, state=state, page=page, limit=limit)
        if not result.items:
            click.echo("no dead letters" + (" match" if any((kind, cause, state)) else ""))
            return
        click.echo(f"{'ID':>7}  {'KIND':5}  {'REASON':17}  {'STATE':8}  {'REPLAYS':>7}  {'LAST FAILED':19}  REF / ERROR")
        for letter in result.items:
            error = (letter.error or "").splitlines()[0][:60] if letter.error else ""
            click.echo(f"{letter.id:>7}  {letter.kind:5}  {letter.reason:17}  {letter.state:8}  {letter.replays:>7}  "
                       f"{letter.last_failed_at:%Y-%m-%d %H:%M:%S}  {letter.ref_id} {error}")
        click.echo(f"page {result.page} of {result.pages} ({result.total} dead letters)")


@dlq.command("show")
@click.argument("letter_id", type=int)
def show(letter_id: int) -> None:
    """Everything about one dead letter, as JSON (payload included)."""
    with session_scope() as session:
        letter = store.get(session, letter_id)
        if letter is None:
            raise click.ClickException(f"no dead letter with id {letter_id}")
        click.echo(json.dumps(store.as_dict(letter), indent=2, default=str))


def _selected_ids(session, ids: tuple[int, ...], where: store.Filter) -> list[int]:
    try:
        return store.selected_ids(session, ids, where, limit=None)  # as the API and the UI select, without a cap
    except store.DeadLetterError as error:
        raise click.UsageError(f"{error} (the options --kind, --cause, --state)") from None


class _Bar:
    """Progress on stderr for long runs; silent for a handful."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: ProgressBar[int] | None = None

    def __call__(self, done: int, total: int) -> None:
        if total <= store.CHUNK:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *_exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@dlq.command("replay")
@click.argument("ids", nargs=-1, type=int)
@filters
@click.option("--reason", default="", help="Why (recorded in the config audit).")
@click.option("--force", is_flag=True, help="Also replay moog_rejected and invalid_event letters, and replayed ones.")
def replay(ids, kind, cause, state, reason, force) -> None:
    """Put dead letters back into the pipeline: by IDS, or every letter the filters match."""
    from mutt_app.handoff import replay_pipeline

    with _Bar("replaying") as bar, session_scope() as session:
        outcome = replay_dead_letters(session, _selected_ids(session, ids, store.Filter(kind, cause, state)), actor=CLI_ACTOR,
                                      reason=reason, force=force, pipeline=replay_pipeline(), progress=bar)
    click.echo(f"replayed {len(outcome.replayed)}, skipped {len(outcome.skipped)}")
    for letter_id, why in list(outcome.skipped.items())[:20]:
        click.echo(f"  {letter_id}: {why}")
    if len(outcome.skipped) > 20:
        click.echo(f"  ... and {len(outcome.skipped) - 20} more")


@dlq.command("purge")
@click.argument("ids", nargs=-1, type=int)
@filters
@click.option("--reason", default="", help="Why (recorded in the config audit).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(ids, kind, cause, state, reason, yes) -> None:
    """Delete dead letters for good: by IDS, or every letter the filters match."""
    with _Bar("purging") as bar, session_scope() as session:
        selected = _selected_ids(session, ids, store.Filter(kind, cause, state))
        if not yes:
            click.confirm(f"delete {len(selected)} dead letter(s) for good?", abort=True)
        purged = store.purge(session, selected, actor=CLI_ACTOR, reason=reason, progress=bar)
    click.echo(f"purged {purged}")


COMMANDS = [dlq]
