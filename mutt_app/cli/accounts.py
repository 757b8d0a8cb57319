"""mutt user ... and mutt apikey ..."""

from __future__ import annotations

import click
from sqlalchemy import select

from mutt_app.access import api_keys, users
from mutt_app.cli.common import require_redis, require_told
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ROLES, SCOPES, ApiKey, User

CLI_ACTOR = "cli"


@click.group("user")
def user() -> None:
    """People who log in to the web UI."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password", help="At least 12 characters. Prompted for when not given.")
def user_create(username: str, role: str, password: str | None) -> None:
    """Create a user who can log in to the UI."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope() as session:
            users.create(session, username, password, role, actor=CLI_ACTOR)
    except users.UserError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"created {role} {username}")


@user.command("list")
def user_list() -> None:
    """List users and their roles."""
    with session_scope() as session:
        for row in session.scalars(select(User).order_by(User.username)):
            click.echo(f"{row.username:30} {row.role:9} {'active' if row.is_active else 'disabled'}")


@click.group("apikey")
def apikey() -> None:
    """API keys for senders and scripts (stored only as digests)."""


@apikey.command("create")
@click.option("--name", required=True, help="Who or what uses the key, e.g. 'rsyslog dc1'.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES),
              help="What the key may do; repeat for several.")
def apikey_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key. The key is printed once and cannot be shown again."""
    require_redis("`mutt apikey create`")
    try:
        with session_scope() as session:
            row, secret = api_keys.create(session, name, scopes, actor=CLI_ACTOR)
            key_id = row.id
    except api_keys.ApiKeyError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"key {key_id} ({name}, scopes {', '.join(sorted(scopes))}):")
    click.echo(secret)
    click.echo("Store it now: MUTT keeps only its digest.", err=True)
    require_told(session, f"key {key_id} was created", f"`mutt apikey create` again (and revoke key {key_id})")


@apikey.command("list")
def apikey_list() -> None:
    """List keys (never their secrets)."""
    with session_scope() as session:
        for row in session.scalars(select(ApiKey).order_by(ApiKey.id)):
            state = "revoked" if row.revoked_at else "active"
            click.echo(f"{row.id:5} mutt_{row.prefix}_…  {state:8} {row.scopes:22} {row.name}")


@apikey.command("revoke")
@click.argument("key_id", type=int)
@click.option("--reason", default="", help="Recorded in the config audit.")
def apikey_revoke(key_id: int, reason: str) -> None:
    """Revoke a key; every MUTT process refuses it within about a second."""
    require_redis("`mutt apikey revoke`")
    try:
        with session_scope() as session:
            api_keys.revoke(session, key_id, actor=CLI_ACTOR, reason=reason)
    except api_keys.ApiKeyError as error:
        raise click.UsageError(str(error)) from None
    require_told(session, f"key {key_id} was revoked", f"`mutt apikey revoke {key_id}` again")
    click.echo(f"key {key_id} revoked")


COMMANDS = [user, apikey]
