"""Flower as `mutt flower` runs it: never open.

- ``FLOWER_BASIC_AUTH`` must be one or more ``user:password`` pairs (comma-separated, Flower's
  format), each with a non-empty user and a non-empty password. ``":"`` or ``"ops:"`` would
  otherwise be accepted by Flower as credentials anyone can type.
- Flower 2 serves ``/metrics`` and ``/healthcheck`` without authentication (those two handlers
  skip its check). This process puts them behind the same basic auth as every other view before
  Flower starts, so nothing Flower serves is open to the network; Prometheus scrapes ``/metrics``
  with ``basic_auth``, and the compose health check sends the credentials too.

Run as ``python -m mutt_app.cli.flower --port N --address A`` (``mutt flower`` does this, with
the credentials in the environment, where ``ps`` does not show them).
"""

from __future__ import annotations

import sys


def credentials_problem(value: str | None) -> str | None:
    """What is wrong with ``value`` as FLOWER_BASIC_AUTH, or None when it is usable."""
    if not value or not value.strip():
        return "set FLOWER_BASIC_AUTH=user:password; Flower never runs without authentication"
    for number, pair in enumerate(value.split(","), start=1):
        user, colon, password = pair.partition(":")
        if not colon or not user.strip() or not password:
            return (f"FLOWER_BASIC_AUTH entry {number} needs a non-empty user and a non-empty password "
                    "(user:password, several separated by commas)")
    return None


def protect_monitoring_views() -> None:
    """Require Flower's authentication on ``/metrics`` and ``/healthcheck`` too."""
    from flower.views import monitor
    from tornado.web import authenticated

    for handler in (monitor.Metrics, monitor.Healthcheck):
        if not getattr(handler.get, "mutt_protected", False):
            handler.get = authenticated(handler.get)
            handler.get.mutt_protected = True


def main(argv: list[str] | None = None) -> None:
    from mutt_app import config
    from mutt_app.celery_app import app

    problem = credentials_problem(config.env("FLOWER_BASIC_AUTH"))
    if problem:  # checked again here: this entry point must not run Flower open either
        sys.exit(f"Error: {problem}")
    protect_monitoring_views()
    sys.exit(app.start(["flower", *(sys.argv[1:] if argv is None else argv)]) or 0)


if __name__ == "__main__":
    main()
