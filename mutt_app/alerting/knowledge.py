"""The alerter's ``Knowledge`` loaded from the rule book: the alerter task and the dry run."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mutt_app.alerting.alerter import Knowledge
from mutt_app.rules import rulebook


def load(session: Session, version: str | None = None) -> Knowledge:
    """The active rules compiled, the development hosts and the device teams."""
    book = rulebook.load(session)
    return Knowledge.build(book.rules, book.dev_hosts, book.teams, version=version)
