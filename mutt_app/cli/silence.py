"""mutt silence add | list | expire: maintenance windows from the command line (docs/suppression.md)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from mutt_app.cli import common
from mutt_app.cli.settings import cli_actor
from mutt_app.storage.db import session_scope
from mutt_app.suppression import silence_store
from mutt_app.suppression.silences import STATES, SilenceError, parse_duration

# --match: amtool's forms (field=value, field!=value, field=~regex) and field=NAME=value, NAME one of these.
OP_NAMES = {"eq": "=", "ne": "!=", "re": "=~", "contains": "contains", "prefix": "prefix"}
_FIELD = re.compile(r"^([a-z_]+)(.*)$", re.DOTALL)
def parse_match(text: str) -> dict[str, str]:
    """'hostname=r1', 'hostname!=r1', 'message=~LINK.*down', 'message=contains=LINK' -> a matcher."""
    found = _FIELD.match(text.strip())
    rest = found.group(2) if found else ""
    for name, op in OP_NAMES.items():
        if rest.startswith(f"={name}="):
            return {"field": found.group(1), "op": op, "value": rest[len(name) + 2:]}  # type: ignore[union-attr]
    for symbol in ("!=", "=~", "="):
        if found and rest.startswith(symbol):
            return {"field": found.group(1), "op": symbol, "value": rest[len(symbol):]}
    raise SilenceError(f"--match {text!r}: write field=value, field!=value, field=~regex or field=NAME=value "
                       f"(NAME one of {', '.join(OP_NAMES)}), e.g. --match message=contains=LINK-3-UPDOWN")


def describe(matcher: dict[str, str]) -> str:
    op = matcher["op"]
    return f"{matcher['field']}{op if op in ('=', '!=', '=~') else ' ' + op + ' '}{matcher['value']}"


@click.group("silence")
def silence_group() -> None:
    """Silences (maintenance windows): events they match are audited, not forwarded."""


@silence_group.command("add")
@click.option("--host", "hosts", multiple=True, help="hostname = HOST (repeat: one silence per host).")
@click.option("--match", "matches", multiple=True,
              help="field=value, field!=value, field=~regex, field=contains=text, field=prefix=text (repeat: all must hold).")
@click.option("--for", "duration", help="How long from --starts (or now): 30m, 2h, 1d.")
@click.option("--starts", help="ISO 8601 start (default now).")
@click.option("--ends", help="ISO 8601 end (instead of --for).")
@click.option("--rrule", help="Recurring: an RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0.")
@click.option("--duration", "window", help="Recurring: each window's length (2h).")
@click.option("--tz", default="UTC", show_default=True, help="Recurring: the RRULE's time zone (Europe/London).")
@click.option("--comment", required=True, help="Why (the config audit's reason).")
def silence_add(hosts: tuple[str, ...], matches: tuple[str, ...], duration: str | None, starts: str | None,
                ends: str | None, rrule: str | None, window: str | None, tz: str, comment: str) -> None:
    """Create a silence; prints its id."""
    now = datetime.now(UTC).replace(microsecond=0)
    matchers = [parse_match(text) for text in matches]
    fields: dict[str, Any] = {"comment": comment, "starts_at": starts}
    if rrule:
        if not window:
            raise SilenceError("--rrule needs --duration (each window's length, e.g. 2h)")
        fields["schedule"] = {"rrule": rrule, "duration_seconds": parse_duration(window, "--duration"), "time_zone": tz}
        fields["ends_at"] = ends
    elif duration:
        start = datetime.fromisoformat(starts) if starts else now
        fields["ends_at"] = ((start if start.tzinfo else start.replace(tzinfo=UTC))
                             + timedelta(seconds=parse_duration(duration, "--for"))).isoformat()
    else:
        fields["ends_at"] = ends
    bodies = [{**fields, "matchers": [{"field": "hostname", "op": "=", "value": host}, *matchers]} for host in hosts]
    common.require_redis("adding a silence")
    with session_scope() as session:
        rows = [silence_store.create(session, body, actor=cli_actor(), now=now) for body in bodies or
                [{**fields, "matchers": matchers}]]
        ids = [row.id for row in rows]
    for silence_id in ids:
        click.echo(silence_id)


@silence_group.command("list")
@click.option("--state", type=click.Choice(STATES), help="Only silences in this state now.")
@click.option("--json", "as_json", is_flag=True, help="As JSON (one object per line).")
def silence_list(state: str | None, as_json: bool) -> None:
    """Silences, newest first."""
    with session_scope() as session:
        silences = [silence_store.to_dict(row) for row in silence_store.list_silences(session, state)]
    for silence in silences:
        if as_json:
            click.echo(json.dumps(silence))
            continue
        matchers = " ".join(describe(matcher) for matcher in silence["matchers"])
        window = silence["window"] or {}
        when = silence["schedule"]["rrule"] if silence["schedule"] else ""
        click.echo(f"{silence['id']}\t{silence['state']}\t{window.get('starts_at', '-')} -> {window.get('ends_at', '-')}"
                   f"\t{matchers}\t{when}\t{silence['created_by']}: {silence['comment']}")
    if not silences:
        click.echo("no silences" + (f" {state}" if state else ""), err=True)


@silence_group.command("expire")
@click.argument("silence_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--reason", default="", help="Recorded in the config audit.")
def silence_expire(silence_id: int, reason: str) -> None:
    """End a silence now (it is kept). Nothing is replayed: new events page again."""
    common.require_redis("expiring a silence")
    with session_scope() as session:
        silence_store.expire(session, silence_id, actor=cli_actor(), reason=reason)
    click.echo(f"silence {silence_id} expired")


COMMANDS = [silence_group]
