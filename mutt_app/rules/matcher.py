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

Clears (``classify``; docs/rules.md "Clears and keys"): a rule may carry a clear pattern,
``clear_match_string`` (same ``match_type``) or, for ``oid_prefix`` rules, ``clear_trap_oid``. It is
checked with the rule's ``trap_oid`` criterion but not its ``syslog_severity`` (a clear is usually
reported at a milder severity). Each rule is tried as its problem pattern, then its clear pattern,
in rule order; the first hit wins. The hit yields a key that pairs a clear with its problem: a
regex's named group ``key``, an interface's ifIndex for ``oid_prefix`` rules, the Alertmanager
fingerprint that ingest puts in the trusted ``_alert_key`` field; None when there is none.

Speed: every event must not be run against every rule. The literals of ``contains`` rules and
the literal each regex requires go into one Aho-Corasick automaton; OID prefixes into a trie by
arcs. An event's candidate rules are the ones whose literal occurs in its message or whose OID
is a prefix of its OID (plus the few regexes without a required literal); only those are
checked, in priority order. The check itself is the full definition above, so the index can only
make matching faster, never different.

Pure: no I/O, no database, no Redis.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
    clears: bool = False
    key: str | None = None


KEY_GROUP = "key"               # the named group of a regex rule that pairs a clear with its problem
MAX_KEY_LENGTH = 64             # keys go into a 255-character signature mutt:rule:<id>:<host>:<key>
ALERT_KEY_FIELD, RESOLVED_FIELD = events.ALERT_KEY_FIELD, events.RESOLVED_FIELD
IF_ENTRY = ("1", "3", "6", "1", "2", "1", "2", "2", "1")       # IF-MIB ifEntry: ifIndex is column 1
IF_X_ENTRY = ("1", "3", "6", "1", "2", "1", "31", "1", "1", "1")  # IF-MIB ifXEntry (ifName ...)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")


def normalise_key(value: Any) -> str | None:
    """A key as it goes into a signature: text, control characters and surrounding blanks gone, at
    most ``MAX_KEY_LENGTH`` characters (a longer one keeps its start and a digest of the whole, so two
    long keys stay apart); None when nothing is left."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _UNPRINTABLE.sub(" ", str(value)).strip()
    if not text:
        return None
    if len(text) > MAX_KEY_LENGTH:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        text = f"{text[: MAX_KEY_LENGTH - 17]}~{digest}"
    return text


def interface_key(event: Mapping[str, Any]) -> str | None:
    """The interface a trap is about (linkDown/linkUp and the like): the value of its ifIndex
    varbind (1.3.6.1.2.1.2.2.1.1.<n>), else the index suffix of another ifEntry/ifXEntry column
    (ifAdminStatus.<n>, ifOperStatus.<n>, ifName.<n>); None when it names none."""
    variables = events.varbinds(event.get("variables"))  # as ingest reads them, should a caller not have
    if not isinstance(variables, list):
        return None
    suffix: str | None = None
    for item in variables:
        if not isinstance(item, dict):
            continue
        arcs = oid_arcs(item.get("oid"))
        if arcs[: len(IF_ENTRY) + 1] == (*IF_ENTRY, "1"):  # ifIndex, with its instance suffix or (v2.5 samples) without
            key = normalise_key(item.get("value"))
            if key is not None:
                return key
        for table in (IF_ENTRY, IF_X_ENTRY):
            if suffix is None and arcs[: len(table)] == table and len(arcs) > len(table) + 1:
                suffix = ".".join(arcs[len(table) + 1:])
    return normalise_key(suffix)


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
    """A rule's problem pattern, or (``clears``) its clear pattern, with the criteria that go with
    it, in the form the checks need."""

    __slots__ = ("rule", "position", "clears", "pattern", "oid_text", "literal", "regex", "oid", "severity",
                 "only_literal", "prefilter", "keyed", "interface_keyed")

    def __init__(self, rule: Rule, position: int, clears: bool = False) -> None:
        self.rule = rule
        self.position = position
        self.clears = clears
        self.literal: str | None = None
        self.regex: patterns.Pattern | None = None
        self.oid: tuple[str, ...] | None = None
        self.prefilter: tuple[str, ...] = ()  # for unindexed regexes: text one of which must occur
        problem = rule_problem(rule)
        if problem:
            raise RuleCompileError(f"rule {rule.id} ({rule.name}): {problem}")
        # a clear keeps the rule's trap_oid scope but not its severity filter (module docstring)
        self.severity = None if clears else rule.syslog_severity
        self.pattern = rule.clear_match_string if clears else rule.match_string
        self.oid_text = rule.clear_trap_oid if clears and rule.match_type == "oid_prefix" else rule.trap_oid
        if rule.match_type == "regex":
            self.regex = patterns.compile_pattern(self.pattern)  # type: ignore[arg-type]
        elif rule.match_type == "contains":
            self.literal = self.pattern.casefold()  # type: ignore[union-attr]
        if self.oid_text:
            self.oid = oid_arcs(self.oid_text)
        self.keyed = self.regex is not None and KEY_GROUP in self.regex.group_names
        self.interface_keyed = rule.match_type == "oid_prefix"
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
        why: list[Reason] = []
        if self.literal is not None and message is not None:
            folded = message.casefold()
            start = folded.find(self.literal)
            same_length = len(folded) == len(message)  # casefold() may lengthen (ß -> ss)
            found = message[start:start + len(self.literal)] if same_length else self.literal
            why.append(Reason("message", self.pattern or "", "contains (case-insensitive)", found))
        if self.regex is not None and message is not None:
            hit = self.regex.find(message)
            why.append(Reason("message", self.pattern or "", "regex search (RE2, case-insensitive)",
                              hit["found"] if hit else ""))
        if self.oid is not None:
            why.append(Reason("trap_oid", self.oid_text or "", "OID prefix (arc by arc)", ".".join(arcs)))
        if self.severity is not None:
            why.append(Reason("syslog_severity", str(self.severity), "equals (numeric)", str(severity)))
        return tuple(why)

    def key(self, text: _Text, event: Mapping[str, Any]) -> str | None:
        """The key the hit yields (module docstring)."""
        if self.keyed:
            hit = self.regex.find(text.message or "")  # type: ignore[union-attr]
            return normalise_key(hit["groups"].get(KEY_GROUP)) if hit else None
        return interface_key(event) if self.interface_keyed else None


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
        if rule.clear_match_string:
            return "clear_match_string: an oid_prefix rule clears on clear_trap_oid; leave clear_match_string empty"
        if rule.clear_trap_oid is not None:
            arcs = oid_arcs(rule.clear_trap_oid)
            if not arcs or not all(arc.isascii() and arc.isdigit() for arc in arcs):
                return f"clear_trap_oid must be a dotted OID such as .1.3.6.1.6.3.1.1.5.4, not {rule.clear_trap_oid!r}"
        return None
    if not rule.match_string:
        return f"a {rule.match_type} rule needs a match_string"
    if rule.clear_trap_oid:
        return (f"clear_trap_oid: only an oid_prefix rule clears on a trap OID; a {rule.match_type} rule "
                "clears on clear_match_string")
    if rule.match_type == "regex":
        return _regex_problem(rule)
    return None


def _regex_problem(rule: Rule) -> str | None:
    """Why a regex rule's patterns cannot be compiled, or pair their keys unevenly."""
    keyed = []
    for name in ("match_string", "clear_match_string"):
        pattern = getattr(rule, name)
        if pattern is None:
            continue
        try:
            keyed.append(KEY_GROUP in patterns.compile_pattern(pattern, field=name).group_names)
        except patterns.PatternError as error:
            return str(error)
    if len(keyed) == 2 and keyed[0] != keyed[1]:
        which, other = ("match_string", "clear_match_string") if keyed[0] else ("clear_match_string", "match_string")
        return (f"{other}: {which} has the named group (?P<{KEY_GROUP}>...) and {other} does not; "
                "the key pairs a clear with its problem, so both patterns have it or neither")
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


class RuleSet:
    """Active rules compiled for matching; build once per rule-set version."""

    def __init__(self, rules: Iterable[Any]) -> None:
        ordered = sorted(
            (rule for rule in map(Rule.of, rules) if rule.is_active),
            key=lambda rule: (rule.priority, rule.id if rule.id is not None else -1),
        )
        self.rules: tuple[Rule, ...] = tuple(ordered)
        # each rule's problem pattern, then its clear pattern: the order in which they are tried
        self._compiled: list[_Compiled] = []
        for rule in ordered:
            self._compiled.append(_Compiled(rule, len(self._compiled)))
            if rule.clear_match_string or rule.clear_trap_oid:
                self._compiled.append(_Compiled(rule, len(self._compiled), clears=True))
        self.has_clears = len(self._compiled) > len(ordered)
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
                literals = patterns.required_literals(compiled.pattern or "")
                if not literals:
                    self._always.append(position)
                    # punctuation the pattern needs (e.g. the dots of a MAC address): a cheap test first
                    needed = patterns.required_literals(compiled.pattern or "", min_alnum=0)
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
        """Regex rules without a literal the index can use (in a pattern or a clear pattern):
        checked against every event."""
        return tuple(dict.fromkeys(self._compiled[position].rule for position in self._always))

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

    def _first(self, event: Mapping[str, Any], clears: bool = True) -> tuple[_Compiled | None, _Text, tuple[str, ...], int | None]:
        """The first entry (with ``clears``: problem or clear pattern; without: problem patterns
        only) that ``event`` matches, and the event's message, OID arcs and severity as checked."""
        text = _Text(event.get("message"))
        oid = event.get("trap_oid")
        arcs = oid_arcs(oid) if oid else ()
        candidates = self._candidates(text.message, text.folded, arcs)
        severity = syslog_severity(event.get("syslog_severity")) if candidates else None
        compiled = self._compiled
        if clears or not self.has_clears:
            for position in candidates:
                rule = compiled[position]
                if rule.only_literal or rule.holds(text, arcs, severity):
                    return rule, text, arcs, severity
        else:
            for position in candidates:
                rule = compiled[position]
                if not rule.clears and (rule.only_literal or rule.holds(text, arcs, severity)):
                    return rule, text, arcs, severity
        return None, text, arcs, severity

    def match(self, event: Mapping[str, Any]) -> Rule | None:
        """The first rule (priority, id) whose problem pattern matches ``event``, or None (clear
        patterns are not looked at: ``classify`` does)."""
        compiled = self._first(event, clears=False)[0]
        return compiled.rule if compiled is not None else None

    def classify(self, event: Mapping[str, Any]) -> Classified | None:
        """The first rule that matches ``event`` by its pattern or its clear pattern (each rule's
        problem pattern, then its clear pattern, in rule order), which of the two, and the key that
        pairs them. An Alertmanager event (``_alert_key``/``_resolved``, set by ingest only) keeps
        its alert's key, and a resolved one clears whichever pattern it matched."""
        compiled, text, _, _ = self._first(event)
        if compiled is None:
            return None
        clears, key = _resolution(compiled, text, event)
        return Classified(compiled.rule, clears, key)

    def explain(self, event: Mapping[str, Any]) -> Match | None:
        """``classify`` with the reasons: which field matched which pattern."""
        compiled, text, arcs, severity = self._first(event)
        if compiled is None:
            return None
        clears, key = _resolution(compiled, text, event)
        return Match(compiled.rule, compiled.reasons(text.message, arcs, severity), clears, key)

    def match_linear(self, event: Mapping[str, Any]) -> Rule | None:
        """The same answer as ``match`` by checking every rule in order (for tests and the bench)."""
        found = self._linear(event, clears=False)
        return found.rule if found is not None else None

    def classify_linear(self, event: Mapping[str, Any]) -> Classified | None:
        """The same answer as ``classify`` without the index (for tests and the bench)."""
        text = _Text(event.get("message"))
        found = self._linear(event, clears=True)
        if found is None:
            return None
        return Classified(found.rule, *_resolution(found, text, event))

    def _linear(self, event: Mapping[str, Any], clears: bool) -> _Compiled | None:
        text = _Text(event.get("message"))
        arcs, severity = oid_arcs(event.get("trap_oid")), syslog_severity(event.get("syslog_severity"))
        for compiled in self._compiled:
            if (clears or not compiled.clears) and compiled.holds(text, arcs, severity):
                return compiled
        return None


def _resolution(compiled: _Compiled, text: _Text, event: Mapping[str, Any]) -> tuple[bool, str | None]:
    """Whether the hit clears, and its key."""
    if ALERT_KEY_FIELD not in event and RESOLVED_FIELD not in event:  # all but Alertmanager's events
        return compiled.clears, compiled.key(text, event)
    clears = compiled.clears or event.get(RESOLVED_FIELD) is True
    alert_key = event.get(ALERT_KEY_FIELD)
    if isinstance(alert_key, str) and alert_key:
        return clears, normalise_key(alert_key)
    return clears, compiled.key(text, event)


def compile_rules(rules: Iterable[Any]) -> RuleSet:
    return RuleSet(rules)
