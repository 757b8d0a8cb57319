"""mutt status | send: what MUTT is doing, and test traffic for it."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import click

from mutt_app.cli.common import celery_settings, start
from mutt_app.operations import status
from mutt_app.storage import redis_client


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
    if report["listeners"]:
        _line("Listeners", _part(report, "listeners", lambda listeners: "".join(
            f"\n  {name:12} received {c['received']}  dropped {c['dropped']}  denied {c['denied']}"
            for name, c in listeners.items())))
    _line("Alerts", _part(report, "alerts", lambda a: (
        f"pending {a['pending']}  sending {a['sending']}  delivered in the last minute {a['delivered_last_minute']}")))
    _line("Circuit breaker", _part(report, "breaker", lambda b: (
        f"{b['state']} ({b['failures']} consecutive failures, opens at {b['threshold']})")))
    _line("Forwarding", _part(report, "forwarding", lambda f: (
        f"oldest waiting alert {f['oldest_waiting_seconds']} s, {f['dead_lettered_in_window']} alerts dead-lettered "
        f"in the last {f['window_seconds']:g} s")))
    _line("Dead letters", _part(report, "dead_letters", lambda d: "  ".join(f"{k} {v}" for k, v in d.items())))
    if report["restarts"]:
        _line("Restarts", _part(report, "restarts", restarts))
    _line("Problems", "none" if not report["problems"] else "")
    for problem in report["problems"]:
        click.echo(f"  - {problem}")


def restarts(record: dict) -> str:
    """The processes `mutt up` supervises, with how often each was started again."""
    run = f"stopped {record['stopped']}" if record["stopped"] else f"running since {record['started']}"
    children = "  ".join(f"{name} {child['restarts']}" + (f" (last exit {child['last_exit']})" if child["restarts"] else "")
                         for name, child in record["children"].items())
    return f"{children}  (mutt up {run})"


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document, for scripts.")
@click.option("--timeout", default=1.0, show_default=True, type=float, help="Seconds to wait for workers to answer.")
def status_command(as_json: bool, timeout: float) -> None:
    """Queues, workers, ingest backlog and rates, breaker, dead letters: one screen.

    Exits 1 when something needs a human (listed under Problems), so scripts can alert on it.
    """
    from mutt_app.celery_app import app

    start()  # a wrong setting stops here, in one line
    report = status.gather(app, redis_client.get(), celery_settings().QUEUES, worker_timeout=timeout)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        show(report)
    sys.exit(1 if report["problems"] else 0)


COMMANDS = [status_command]


def _show_sent(report: dict, final: bool = True) -> None:
    rate = f" ({report['events_per_second']} events/s)" if report["events_per_second"] else ""
    click.echo(f"{'sent' if final else '...'} {report['events']} events in {report['requests']} requests "
               f"over {report['seconds']} s{rate}", err=not final)
    if not final:
        return
    click.echo(f"  accepted {report['accepted']}  rejected {report['rejected']}  "
               f"refused {report['refused']} (429/503: send again later)  failed {report['failed']} (no answer)")
    click.echo("  statuses " + ("  ".join(f"{k}x{v}" for k, v in report["statuses"].items()) or "-"))
    latency = report["latency_ms"]
    if latency["p50"] is not None:
        click.echo(f"  latency ms  p50 {latency['p50']}  p90 {latency['p90']}  p99 {latency['p99']}  max {latency['p100']}")
    for error, count in report["errors"].items():
        click.echo(f"  {count} x {error}")


@click.command("send")
@click.option("--url", default="http://127.0.0.1:8080/api/v2/ingest", show_default=True, help="Ingest URL.")
@click.option("--key", help="API key with the ingest scope. Better: the MUTT_API_KEY environment variable.")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Events to send: a JSON array or object, or NDJSON (v2.5's sample files work).")
@click.option("--count", type=click.IntRange(min=1), help="Events to send [default: 1, or every event of --file]. "
              "With --file, the file is sent again from the top until COUNT events went out.")
@click.option("--rate", default=0.0, type=click.FloatRange(min=0), help="Events per second; 0 = as fast as possible.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 256), help="Requests in flight.")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(1, 10_000),
              help="Events per request (more than 1 posts a JSON array).")
@click.option("--message", default="mutt send test event {n}", show_default=True,
              help="Message of made-up events; {n} is their number.")
@click.option("--hostname", help="Hostname of made-up events [default: this machine's].")
@click.option("--severity", default=6, show_default=True, type=click.IntRange(0, 7), help="syslog_severity of made-up events.")
@click.option("--timeout", default=10.0, show_default=True, type=float, help="Seconds to wait for one answer.")
@click.option("--json", "as_json", is_flag=True, help="The counts as JSON, for scripts.")
def send_command(url, key, path, count, rate, concurrency, batch, message, hostname, severity, timeout, as_json) -> None:
    """Post a test event, or a file of events, to an ingest URL; print accepted, rejected and
    refused counts and latency percentiles. Exits 1 unless every event was accepted."""
    from mutt_app import config
    from mutt_app.tools import sender
    key = key or config.env("MUTT_API_KEY")
    if not key:
        raise click.UsageError("give an API key with the ingest scope: MUTT_API_KEY=... or --key")
    if path is not None:
        try:
            source = sender.load_events(path)
        except (OSError, ValueError) as error:
            raise click.ClickException(str(error)) from None
        events = list(itertools.islice(itertools.cycle(source), count or len(source)))
    else:
        events = list(itertools.islice(sender.made_up_events(message, hostname, severity), count or 1))
    progress = None if as_json else (lambda r: _show_sent(r.as_dict(), final=False))
    report = sender.send(url, key, events, batch=batch, rate=rate, concurrency=concurrency, timeout=timeout,
                         progress=progress).as_dict()
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _show_sent(report)
    sys.exit(0 if report["accepted"] == report["events"] else 1)


COMMANDS.append(send_command)
