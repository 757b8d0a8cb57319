"""mutt status | send: what MUTT is doing, and test traffic for it."""

from __future__ import annotations

import json
import sys

import click

from celeryconfig import QUEUES
from mutt_app import redis_client, status


def _line(label: str, text: str) -> None:
    click.echo(f"{label:16}{text}")


def _part(report: dict, name: str, render) -> str:
    value = report[name]
    return f"unknown ({value['error']})" if "error" in value else render(value)


def show(report: dict) -> None:
    """One screen, in the order an operator reads it: is work flowing, where does it wait."""
    click.echo(f"MUTT status at {report['time']}")
    workers, queues = report["workers"], report["queues"]
    if "error" in queues:
        _line("Queues", f"unknown ({queues['error']})")
    else:
        consumers = {} if "error" in workers else workers
        _line("Queues", "waiting  consumed by")
        for queue, depth in queues["waiting"].items():
            names = [name for name, consumed in consumers.items() if queue in consumed]
            shown = "not declared" if depth is None else str(depth)
            click.echo(f"  {queue:14}{shown:>7}  {', '.join(names) or '-'}")
        if queues["unacked"] is not None:
            click.echo(f"  held by workers (running, prefetched, retry countdowns): {queues['unacked']}")
    _line("Workers", _part(report, "workers", lambda w: f"{len(w)} answered" + "".join(
        f"\n  {name}  [{','.join(queues_)}]" for name, queues_ in w.items())))
    _line("Ingest", _part(report, "ingest", lambda i: (
        f"backlog {i['backlog']}  buffered {i['buffered']}  batches pending {i['batches_pending']}\n"
        f"{'':16}{i['events_last_minute']} events in the last minute, {i['events_this_minute']} so far this minute")))
    _line("Alerts", _part(report, "alerts", lambda a: (
        f"pending {a['pending']}  sending {a['sending']}  delivered in the last minute {a['delivered_last_minute']}")))
    _line("Circuit breaker", _part(report, "breaker", lambda b: (
        f"{b['state']} ({b['failures']} consecutive failures, opens at {b['threshold']})")))
    _line("Dead letters", _part(report, "dead_letters", lambda d: "  ".join(f"{k} {v}" for k, v in d.items())))
    _line("Problems", "none" if not report["problems"] else "")
    for problem in report["problems"]:
        click.echo(f"  - {problem}")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document, for scripts.")
@click.option("--timeout", default=1.0, show_default=True, type=float, help="Seconds to wait for workers to answer.")
def status_command(as_json: bool, timeout: float) -> None:
    """Queues, workers, ingest backlog and rates, breaker, dead letters: one screen.

    Exits 1 when something needs a human (listed under Problems), so scripts can alert on it.
    """
    from mutt_app.celery_app import app

    report = status.gather(app, redis_client.get(), QUEUES, worker_timeout=timeout)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        show(report)
    sys.exit(1 if report["problems"] else 0)


COMMANDS = [status_command]
