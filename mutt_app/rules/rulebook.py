"""The rule book as a whole: what the alerter loads (the active rules that can be matched, the
development hosts, the device teams) and its version in Redis (``redis_keys.RULES_VERSION``),
bumped once a change to any of them commits, so every alerter worker reloads within a second.
The parts are changed through ``rule_store`` and ``host_store``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutt_app.rules.matcher import Rule as MatcherRule
from mutt_app.rules.matcher import handling_problem, rule_problem
from mutt_app.storage import db, redis_keys
from mutt_app.storage.models import DevelopmentHost, DeviceTeam, Rule

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


def changed(session: Session) -> None:
    """Tell every alerter worker, once ``session`` commits, that rules, hosts or teams changed."""
    db.on_commit(session, bump_version)


def bump_version() -> None:
    from mutt_app.storage import redis_client
    try:
        redis_client.get().incr(redis_keys.RULES_VERSION)
    except Exception:  # the change is committed; workers also reload at least every minute
        log.warning("could not bump the rule-set version in Redis; workers reload within a minute", exc_info=True)


@dataclass(frozen=True)
class RuleBook:
    rules: list[Rule]          # active, not deleted, and matchable
    dev_hosts: list[str]
    teams: dict[str, str]      # hostname -> team


def load(session: Session) -> RuleBook:
    """The active rules (a stored rule that cannot be matched is logged and left out), the
    development hosts and the device teams."""
    rules = []
    for row in session.scalars(select(Rule).where(Rule.is_active.is_(True), Rule.deleted_at.is_(None))):
        # Only possible for a row written around validation (by hand in SQL, or by an older MUTT).
        problem = rule_problem(MatcherRule.of(row))
        if problem:  # cannot be matched (e.g. a regex RE2 refuses): left out, the rest works
            log.error("invalid rule %s (%s) is left out of the rule set: %s", row.id, row.name, problem)
            continue
        problem = handling_problem(MatcherRule.of(row))
        if problem:  # matches, its events are audited and not forwarded (as before); fix it
            log.error("invalid rule %s (%s) matches but never forwards: %s", row.id, row.name, problem)
        rules.append(row)
    hosts = session.scalars(select(DevelopmentHost.hostname))
    teams = session.execute(select(DeviceTeam.hostname, DeviceTeam.team_assignment))
    return RuleBook(rules, list(hosts), {host: team for host, team in teams})

