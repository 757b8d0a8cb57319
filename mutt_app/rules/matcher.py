"""The rule matcher: compile a rule set once, then find the first matching rule per event fast.

Semantics (docs/rules.md has the full story and the differences from v2.5):

- Active rules are ordered by ``priority`` ascending, then ``id`` ascending; the first rule that
  matches wins.
- A rule's criteria are all required (AND):
  ``match_string`` — with ``match_type`` ``contains`` a case-insensitive substring of the event's
  ``message``, with ``regex`` a case-insensitive, unanchored RE2 search (``mutt_app.core.patterns``:
  linear time, bounded per search; Python-only syntax such as lookaround is refused);
  ``trap_oid`` — the event's ``trap_oid`` lies under it, arc by arc, a leading dot ignored
  (``.1.3.6.1.4.1.9`` matches ``1.3.6.1.4.1.9.9.41`` but not ``1.3.6.1.4.1.99``);
  ``syslog_severity`` — equals the event's severity, compared as numbers, whether the event sent
  ``3``, ``"3"`` or ``"Error"``.
- ``match_type`` ``oid_prefix`` rules match on ``trap_oid`` alone.

Speed: every event must not be run against every rule. The literals of ``contains`` rules and
the literal each regex requires go into one Aho-Corasick automaton; OID prefixes into a trie by
arcs. An event's candidate rules are the ones whose literal occurs in its message or whose OID
is a prefix of its OID (plus the few regexes without a required literal); only those are
checked, in priority order. The check itself is the full definition above, so the index can only
make matching faster, never different.

Pure: no I/O, no database, no Redis.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# re's own parser (Python 3.11+) tells the literals a pattern requires; typeshed has no stub for it.
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import ahocorasick

from mutt_app.core import patterns
from mutt_app.errors import InvalidInput
from mutt_app.ingest import events
from mutt_app.storage.models import HANDLINGS, MATCH_TYPES


def syslog_severity(value: Any) -> int | None:
    """The numeric syslog severity (0-7) of ``value`` (int, numeric string or name), else None."""
    try:
        return events.syslog_severity(value)
    except (KeyError, ValueError):
        return None


def oid_arcs(oid: Any) -> tuple[str, ...]:
    """An OID as its arcs, leading dot and surrounding blanks ignored: ".1.3.6" -> ("1", "3", "6")."""
    if not isinstance(oid, str):
        return ()
    text = oid.strip().lstrip(".")
    return tuple(text.split(".")) if text else ()


@dataclass(frozen=True)
class Rule:
    """One rule as the matcher sees it (built from a database row or a dict of its fields)."""

    id: int | None
    name: str
    priority: int
    match_type: str
    match_string: str | None = None
    trap_oid: str | None = None
    syslog_severity: int | None = None
    prod_handling: str = ""
    dev_handling: str = ""
    team_assignment: str = ""
    moog_severity: int = 3
    is_active: bool = True
    clear_match_string: str | None = None
    clear_trap_oid: str | None = None

    FIELDS = ("id", "name", "priority", "match_type", "match_string", "trap_oid", "syslog_severity",
              "prod_handling", "dev_handling", "team_assignment", "moog_severity", "is_active",
              "clear_match_string", "clear_trap_oid")

    @classmethod
    def of(cls, source: Any) -> Rule:
        """From a ``Rule`` model row, a mapping of its fields, or a ``Rule``."""
        if isinstance(source, Rule):
            return source
        get = source.get if isinstance(source, Mapping) else (lambda name, default=None: getattr(source, name, default))
        values = {name: get(name, None) for name in cls.FIELDS}
        values["name"] = values["name"] or ""
        values["priority"] = 100 if values["priority"] is None else int(values["priority"])
        values["match_type"] = values["match_type"] or "contains"
        values["moog_severity"] = 3 if values["moog_severity"] is None else int(values["moog_severity"])
        values["is_active"] = True if values["is_active"] is None else bool(values["is_active"])
        for text in ("prod_handling", "dev_handling", "team_assignment"):
            values[text] = values[text] or ""
        return cls(**values)


class RuleCompileError(InvalidInput):
    """A rule that cannot be compiled (bad regex, no criteria, unknown match type)."""


@dataclass(frozen=True)
class Reason:
    """Why a criterion held: which event field, which pattern, what it found."""

    field: str
    pattern: str
    how: str
    found: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "pattern": self.pattern, "how": self.how, "found": self.found}


@dataclass(frozen=True)
class Classified:
    """What an event is to the first rule it matches: the problem, or (``clears``) its clear, and
    the key that pairs the two (None: the alert's signature falls back to the message fingerprint)."""

    rule: Rule
    clears: bool = False
    key: str | None = None


@dataclass(frozen=True)
class Match:
    rule: Rule
    why: tuple[Reason, ...] = field(default=())


class _Text:
    """An event's message in the forms the checks use: as sent, case-folded, and (made on first
    use, for regexes only) UTF-8 for RE2."""

    __slots__ = ("message", "folded", "_data")

    def __init__(self, message: Any) -> None:
        self.message: str | None = message if isinstance(message, str) and message else None
        self.folded = self.message.casefold() if self.message is not None else None
        self._data: bytes | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = patterns.encode(self.message or "")
        return self._data


class _Compiled:
    """A rule and its criteria in the form the checks need."""

    __slots__ = ("rule", "position", "literal", "regex", "oid", "severity", "only_literal", "prefilter")

    def __init__(self, rule: Rule, position: int) -> None:
        self.rule = rule
        self.position = position
        self.literal: str | None = None
        self.regex: patterns.Pattern | None = None
        self.oid: tuple[str, ...] | None = None
        self.severity = rule.syslog_severity
        self.prefilter: tuple[str, ...] = ()  # for unindexed regexes: text one of which must occur
        problem = rule_problem(rule)
        if problem:
            raise RuleCompileError(f"rule {rule.id} ({rule.name}): {problem}")
        if rule.match_type == "regex":
            self.regex = patterns.compile_pattern(rule.match_string)  # type: ignore[arg-type]
        elif rule.match_type == "contains":
            self.literal = rule.match_string.casefold()  # type: ignore[union-attr]
        if rule.trap_oid:
            self.oid = oid_arcs(rule.trap_oid)
        # Indexed by its literal alone and nothing else to check: being a candidate is matching.
        self.only_literal = self.literal is not None and self.oid is None and self.severity is None

    def holds(self, text: _Text, arcs: tuple[str, ...], severity: int | None) -> bool:
        if self.severity is not None and self.severity != severity:
            return False
        if self.oid is not None and arcs[: len(self.oid)] != self.oid:
            return False
        if self.literal is not None:
            return text.folded is not None and self.literal in text.folded
        if self.regex is not None:
            if text.folded is None or (self.prefilter and not any(part in text.folded for part in self.prefilter)):
                return False
            return self.regex.matches(text.data)
        return True

    def reasons(self, message: str | None, arcs: tuple[str, ...], severity: int | None) -> tuple[Reason, ...]:
        rule, why = self.rule, []
        if self.literal is not None and message is not None:
            folded = message.casefold()
            start = folded.find(self.literal)
            same_length = len(folded) == len(message)  # casefold() may lengthen (ß -> ss)
            found = message[start:start + len(self.literal)] if same_length else self.literal
            why.append(Reason("message", rule.match_string or "", "contains (case-insensitive)", found))
        if self.regex is not None and message is not None:
            hit = self.regex.find(message)
            why.append(Reason("message", rule.match_string or "", "regex search (RE2, case-insensitive)",
                              hit["found"] if hit else ""))
        if self.oid is not None:
            why.append(Reason("trap_oid", rule.trap_oid or "", "OID prefix (arc by arc)", ".".join(arcs)))
        if self.severity is not None:
            why.append(Reason("syslog_severity", str(self.severity), "equals (numeric)", str(severity)))
        return tuple(why)


def rule_problem(rule: Rule) -> str | None:
    """Why ``rule`` cannot match anything or cannot be compiled; None when it is sound."""
    if rule.match_type not in MATCH_TYPES:
        return f"match_type must be one of {', '.join(MATCH_TYPES)}, not {rule.match_type!r}"
    if rule.syslog_severity is not None and not (isinstance(rule.syslog_severity, int) and 0 <= rule.syslog_severity <= 7):
        return f"syslog_severity must be 0-7, not {rule.syslog_severity!r}"
    if rule.trap_oid is not None:
        arcs = oid_arcs(rule.trap_oid)
        if not arcs or not all(arc.isascii() and arc.isdigit() for arc in arcs):  # not "١" or "²"
            return f"trap_oid must be a dotted OID such as .1.3.6.1.4.1.9, not {rule.trap_oid!r}"
    if rule.match_type == "oid_prefix":
        if not rule.trap_oid:
            return "an oid_prefix rule needs a trap_oid"
        if rule.match_string:
            return "an oid_prefix rule matches on trap_oid only; leave match_string empty (or use contains/regex with a trap_oid)"
        return None
    if not rule.match_string:
        return f"a {rule.match_type} rule needs a match_string"
    if rule.match_type == "regex":
        try:
            patterns.compile_pattern(rule.match_string)
        except patterns.PatternError as error:
            return str(error)
    return None


def handling(value: Any) -> str | None:
    """The canonical spelling of a handling decision given in any case ("page_only" -> "Page_only"),
    or None when ``value`` is not one of ``HANDLINGS``."""
    if not isinstance(value, str):
        return None
    return _HANDLINGS_BY_LOWER.get(value.strip().lower())


_HANDLINGS_BY_LOWER = {name.lower(): name for name in HANDLINGS}


def handling_problem(rule: Rule) -> str | None:
    """Why ``rule``'s decisions are not ones MUTT knows (a typo such as ``Pgae_only`` would never
    page); None when both are. Such a stored rule still matches (its events are audited, not
    forwarded, as in v2.5), but it is reported (docs/rules.md)."""
    for name in ("prod_handling", "dev_handling"):
        value = getattr(rule, name)
        if handling(value) is None:
            return f"{name} must be one of {', '.join(HANDLINGS)} (any case), not {value!r}"
    return None


def required_literals(pattern: str, min_alnum: int = 1) -> list[str]:
    """Literals of which at least one occurs (case-insensitively) in every text ``pattern`` matches.

    Empty when no such literal could be found (the rule is then checked against every event).
    Walks the pattern as Python's parser reads it (RE2 reads every pattern it accepts the same
    way, ``patterns.python_and_re2_forms`` refuses or rewrites the differences; a pattern Python
    cannot parse, or only with a warning such as RE2's ``[[:alpha:]]``, gets no literal): a run
    of literal characters in the mandatory top-level sequence (capture groups included) is
    required; an alternation contributes one literal per branch.
    """
    try:
        python_form, _ = patterns.python_and_re2_forms(pattern)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # FutureWarning: a nested set, read differently by RE2
            parsed = sre_parse.parse(python_form, re.IGNORECASE)
    except (re.error, patterns.PatternError, Warning):
        return []
    return _best(_sequence(list(parsed), min_alnum), min_alnum)


def _sequence(items: list[Any], min_alnum: int) -> list[list[str]]:
    """Options: each option is a list of literals, one of which must occur."""
    options: list[list[str]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            options.append(["".join(run)])
            run.clear()

    for op, value in items:
        name = str(op)
        if name == "LITERAL":
            run.append(chr(value))
            continue
        close()
        if name == "SUBPATTERN":
            sub = value[-1]
            options.extend(_sequence(list(sub), min_alnum))
        elif name == "BRANCH":
            branches = [_best(_sequence(list(branch), min_alnum), min_alnum) for branch in value[1]]
            if branches and all(branches):
                options.append([literal for branch in branches for literal in branch])
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and value[0] >= 1:
            options.extend(_sequence(list(value[2]), min_alnum))
        elif name == "ATOMIC_GROUP":
            options.extend(_sequence(list(value), min_alnum))
    close()
    return options


def _best(options: list[list[str]], min_alnum: int) -> list[str]:
    """The most selective option: the one whose weakest literal has the most letters and digits."""
    # Only ASCII literals: re's IGNORECASE equates some non-ASCII letters with ASCII ones
    # (dotless i, long s) in ways casefold() does not, and the index must never miss a match.
    scored = [
        (min(sum(ch.isalnum() for ch in literal) for literal in option), -len(option), option)
        for option in options
        if option and all(literal and literal.isascii() for literal in option)
    ]
    scored = [entry for entry in scored if entry[0] >= min_alnum]
    if not scored:
        return []
    return [literal.casefold() for literal in max(scored, key=lambda entry: entry[:2])[2]]


class RuleSet:
    """Active rules compiled for matching; build once per rule-set version."""

    def __init__(self, rules: Iterable[Any]) -> None:
        ordered = sorted(
            (rule for rule in map(Rule.of, rules) if rule.is_active),
            key=lambda rule: (rule.priority, rule.id if rule.id is not None else -1),
        )
        self.rules: tuple[Rule, ...] = tuple(ordered)
        self._compiled = [_Compiled(rule, position) for position, rule in enumerate(ordered)]
        self._always: list[int] = []          # regexes without a required literal
        self._regexes: list[int] = []         # every regex: candidates for non-ASCII messages
        self._oid_trie: dict[str, Any] = {}    # arc -> (positions ending here, children)
        literal_to_positions: dict[str, list[int]] = {}
        for compiled in self._compiled:
            position = compiled.position
            if compiled.literal is not None:
                literal_to_positions.setdefault(compiled.literal, []).append(position)
            elif compiled.regex is not None:
                self._regexes.append(position)
                literals = required_literals(compiled.rule.match_string or "")
                if not literals:
                    self._always.append(position)
                    # punctuation the pattern needs (e.g. the dots of a MAC address): a cheap test first
                    needed = required_literals(compiled.rule.match_string or "", min_alnum=0)
                    if not any(char.isalpha() for text in needed for char in text):  # no case to fold
                        compiled.prefilter = tuple(needed)
                for literal in literals:
                    literal_to_positions.setdefault(literal, []).append(position)
            elif compiled.oid is not None:  # oid_prefix rules: indexed by their OID only
                node = self._oid_trie
                for arc in compiled.oid:
                    node = node.setdefault(arc, ([], {}))
                    terminal, node = node
                terminal.append(position)
        self._automaton = None
        if literal_to_positions:
            automaton = ahocorasick.Automaton()
            for literal, positions in literal_to_positions.items():
                automaton.add_word(literal, tuple(positions))
            automaton.make_automaton()
            self._automaton = automaton

    @property
    def unindexed(self) -> tuple[Rule, ...]:
        """Regex rules without a literal the index can use: checked against every event."""
        return tuple(self._compiled[position].rule for position in self._always)

    def __len__(self) -> int:
        return len(self.rules)

    def _candidates(self, message: str | None, folded: str | None, arcs: tuple[str, ...]) -> list[int]:
        found: set[int] = set(self._always) if self._always else set()
        if message is not None and self._regexes and not message.isascii():
            found.update(self._regexes)
        if folded and self._automaton is not None:
            update = found.update
            for _, positions in self._automaton.iter(folded):
                update(positions)
        if arcs:
            node = self._oid_trie
            for arc in arcs:
                entry = node.get(arc)
                if entry is None:
                    break
                found.update(entry[0])
                node = entry[1]
        return sorted(found) if len(found) > 1 else list(found)

    def _first(self, event: Mapping[str, Any]) -> tuple[_Compiled | None, tuple[str | None, tuple[str, ...], int | None]]:
        text = _Text(event.get("message"))
        oid = event.get("trap_oid")
        arcs = oid_arcs(oid) if oid else ()
        candidates = self._candidates(text.message, text.folded, arcs)
        severity = syslog_severity(event.get("syslog_severity")) if candidates else None
        compiled = self._compiled
        for position in candidates:
            rule = compiled[position]
            if rule.only_literal or rule.holds(text, arcs, severity):
                return rule, (text.message, arcs, severity)
        return None, (text.message, arcs, severity)

    def match(self, event: Mapping[str, Any]) -> Rule | None:
        """The first rule (priority, id) that matches ``event``, or None."""
        compiled, _ = self._first(event)
        return compiled.rule if compiled is not None else None

    def classify(self, event: Mapping[str, Any]) -> Classified | None:
        """The first rule that matches ``event`` by its pattern or its clear pattern, which of the two,
        and the key the pattern extracted."""
        rule = self.match(event)
        return Classified(rule) if rule is not None else None

    def explain(self, event: Mapping[str, Any]) -> Match | None:
        """``match`` with the reasons: which field matched which pattern."""
        compiled, fields = self._first(event)
        if compiled is None:
            return None
        return Match(compiled.rule, compiled.reasons(*fields))

    def match_linear(self, event: Mapping[str, Any]) -> Rule | None:
        """The same answer as ``match`` by checking every rule in order (for tests and the bench)."""
        text = _Text(event.get("message"))
        arcs, severity = oid_arcs(event.get("trap_oid")), syslog_severity(event.get("syslog_severity"))
        for compiled in self._compiled:
            if compiled.holds(text, arcs, severity):
                return compiled.rule
        return None


def compile_rules(rules: Iterable[Any]) -> RuleSet:
    return RuleSet(rules)
