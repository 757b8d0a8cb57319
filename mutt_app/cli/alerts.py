"""mutt alerts list|show: the alerts as operators see them (domain: mutt_app/alerting/alert_queries.py)."""

from __future__ import annotations

import json
from typing import Any

import click

from mutt_app.alerting import alert_queries
from mutt_app.core import params
from mutt_app.storage.db import session_scope


@click.group("alerts")
def alerts() -> None:
    """Alerts: one per problem (signature), open until cleared, with their events and deliveries."""


@alerts.command("list")
@click.option("--state", type=click.Choice(alert_queries.STATES), help="open, cleared, or flapping (in any state).")
@click.option("--host", help="A host name, or its start followed by * (edge-*); any case.")
@click.option("--rule-id", type=click.IntRange(1, params.MAX_INT32), help="Alerts of this rule.")
@click.option("--limit", default=alert_queries.DEFAULT_LIMIT, show_default=True,
              type=click.IntRange(1, alert_queries.MAX_LIMIT))
@click.option("--cursor", help="Where a page starts: the cursor the previous page printed.")
@click.option("--json", "as_json", is_flag=True, help="The page as JSON (the API's shape).")
def list_(state, host, rule_id, limit, cursor, as_json) -> None:
    """List alerts: open first, then the most recently seen."""
    args = {"state": state, "host": host, "rule_id": rule_id, "limit": limit, "cursor": cursor}
    with session_scope() as session:
        page = alert_queries.search(session, args)
    if as_json:
        click.echo(json.dumps(page.to_dict(), indent=2))
        return
    if not page.alerts:
        click.echo("no alerts" + (" match" if any((state, host, rule_id)) else ""))
        return
    click.echo(f"{'ID':>7}  {'STATE':7}  {'FLAP':4}  {'COUNT':>6}  {'LAST SEEN':19}  {'HOST':24}  {'RULE':24}  DESCRIPTION")
    for alert in page.alerts:
        rule = f"{alert['rule_id'] or '-'} {alert['rule_name']}"[:24]
        click.echo(f"{alert['id']:>7}  {alert['state']:7}  {'yes' if alert['flapping'] else '':4}  {alert['occurrences']:>6}  "
                   f"{_time(alert['last_seen'])}  {alert['hostname'][:24]:24}  {rule:24}  {alert['description'][:60]}")
    shown = f"{len(page.alerts)} of {page.total} alerts"
    click.echo(f"{shown}; next page: --cursor {page.next_cursor}" if page.next_cursor else shown)


@alerts.command("show")
@click.argument("alert_id", type=click.IntRange(1, params.MAX_WHOLE))
@click.option("--json", "as_json", is_flag=True, help="Everything as JSON (the API's shape).")
def show(alert_id: int, as_json: bool) -> None:
    """One alert with its newest events and its deliveries to Moogsoft."""
    with session_scope() as session:
        alert = alert_queries.detail(session, alert_id)
    if as_json:
        click.echo(json.dumps(alert, indent=2))
        return
    flapping = f", flapping since {_time(alert['flapping_since'])}" if alert["flapping"] else ""
    click.echo(f"alert {alert['id']}: {alert['state']}{flapping}; occurrences since it opened: {alert['occurrences']}")
    for name in ("signature", "hostname", "rule_name", "key", "team", "severity", "environment", "description"):
        click.echo(f"  {name + ':':13} {alert[name]}")
    click.echo(f"  {'seen:':13} {_time(alert['first_seen'])} .. {_time(alert['last_seen'])}")
    click.echo(f"events (newest {len(alert['events'])} of {alert['events_total']}):")
    for event in alert["events"]:
        click.echo(f"  {_time(event['received_at'])}  {event['decision']:20}  {event['message'][:80]}")
    click.echo(f"deliveries to Moogsoft (newest {len(alert['deliveries'])} of {alert['deliveries_total']}):")
    for delivery in alert["deliveries"]:
        click.echo(f"  {_time(delivery['created_at'])}  {delivery['state']:9}  severity {delivery['severity']}  "
                   f"{delivery['attempts']} attempts  last status {delivery['last_status'] or '-'}  "
                   f"delivered {_time(delivery['delivered_at']) if delivery['delivered_at'] else '-'}")


def _time(iso: Any) -> str:
    return str(iso or "")[:19].replace("T", " ")


COMMANDS = [alerts]
