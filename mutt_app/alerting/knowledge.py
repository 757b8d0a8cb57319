"""What the alerter knows: the compiled rules, the development hosts and the device teams.

``Knowledge`` is loaded and compiled once per rule-set version (:func:`load`);
``KnowledgeCache`` keeps one per process and reloads it when the version in Redis moves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from redis import Redis
from sqlalchemy.orm import Session

from mutt_app.rules import rulebook
from mutt_app.rules.matcher import RuleSet
from mutt_app.storage import redis_keys
from mutt_app.suppression.silence_store import SilenceCache
from mutt_app.suppression.silences import EMPTY, SilenceSet

DEV, PROD = "dev", "prod"
RELOAD_AT_LEAST_EVERY = 60.0    # seconds: also reload without a version bump (e.g. Redis lost it)


def _lower_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(name.strip().lower() for name in names if name)


@dataclass(frozen=True)
class Knowledge:
    """Everything matching needs, loaded and compiled once per rule-set version."""

    rules: RuleSet
    dev_hosts: frozenset[str]          # lower-cased
    teams: dict[str, str]              # lower-cased hostname -> team
    version: str | None = None
    loaded_at: float = field(default_factory=time.monotonic)
    silences: SilenceSet = EMPTY       # kept up to date by KnowledgeCache's SilenceCache

    @classmethod
    def build(cls, rules: Iterable[Any], dev_hosts: Iterable[str], teams: dict[str, str],
              version: str | None = None) -> Knowledge:
        return cls(RuleSet(rules), _lower_names(dev_hosts),
                   {host.strip().lower(): team for host, team in teams.items()}, version)

    def with_rules(self, rules: RuleSet) -> Knowledge:
        return replace(self, rules=rules)

    def _lookup(self, hostname: Any) -> tuple[str, str]:
        """The hostname, lower-cased, then its first label (dev-router1.lab.example.com -> dev-router1)."""
        name = str(hostname or "").strip().lower()
        return name, name.split(".", 1)[0]

    def environment(self, hostname: Any) -> str:
        full, first = self._lookup(hostname)
        return DEV if full in self.dev_hosts or first in self.dev_hosts else PROD

    def team_for(self, hostname: Any) -> str | None:
        full, first = self._lookup(hostname)
        return self.teams.get(full) or self.teams.get(first)


class KnowledgeCache:
    """This process's rules, hosts and teams, reloaded when ``redis_keys.RULES_VERSION`` moves (checked
    for every batch, so a change is used by the next batch) and at least every minute. With a
    ``SilenceCache``, the silences come along (their own version, docs/suppression.md)."""

    def __init__(self, load: Callable[[str | None], Knowledge], silences: SilenceCache | None = None) -> None:
        self._load = load
        self._silences = silences
        self._knowledge: Knowledge | None = None

    def get(self, redis_client: Redis) -> tuple[Knowledge, bool]:
        """The current knowledge, and whether it was (re)loaded for this call."""
        stored = redis_client.get(redis_keys.RULES_VERSION)
        version = None if stored is None else str(stored)
        known = self._knowledge
        reloaded = known is None or known.version != version or time.monotonic() - known.loaded_at > RELOAD_AT_LEAST_EVERY
        if reloaded:
            known = self._knowledge = self._load(version)
        assert known is not None
        if self._silences is not None:
            silences = self._silences.get(redis_client)
            if known.silences is not silences:
                known = self._knowledge = replace(known, silences=silences)
        return known, reloaded


def load(session: Session, version: str | None = None) -> Knowledge:
    """The active rules compiled, the development hosts and the device teams."""
    book = rulebook.load(session)
    return Knowledge.build(book.rules, book.dev_hosts, book.teams, version=version)
