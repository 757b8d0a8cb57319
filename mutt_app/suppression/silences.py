"""Silences (maintenance windows): what one is, when it holds, which events it mutes. Pure.

A silence is a list of matchers (all must hold) and a time: a one-off window (``starts_at`` to
``ends_at``) or a recurring one (``schedule``: an RFC 5545 RRULE, a duration in seconds and a
time zone; every occurrence opens a window of that duration). docs/suppression.md, ADR 0015.

- ``validate(fields, now=...)`` checks what a user sent and returns the fields to store, or
  raises ``SilenceError`` (422) naming the field.
- ``Silence.of(row)`` compiles a stored silence; ``state(at)`` is active, pending or expired.
- ``SilenceSet(silences)`` answers, per event, which silence (its id) mutes it now:
  ``silencing(event, rule_id=..., environment=..., team=..., now=...)`` (and ``is_silenced``).
  The silences active at a moment are indexed by an exact hostname, rule_id, source,
  environment or team matcher, and the index is rebuilt only when a window opens or closes, so an
  event costs a few dictionary look-ups and the checks of the few silences that could apply; the
  regexes of the silences many events meet are searched together, one RE2 set per field.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as dateutil_rrule

from mutt_app.core import patterns
from mutt_app.errors import InvalidChange

FIELDS = ("hostname", "environment", "team", "rule_id", "message", "trap_oid", "source")
OPS = ("=", "!=", "=~", "contains", "prefix")
ACTIVE, PENDING, EXPIRED = "active", "pending", "expired"
STATES = (ACTIVE, PENDING, EXPIRED)
MAX_WINDOW = timedelta(days=366)           # a window (or a recurring window's duration): a year at most
MAX_MATCHERS = 20
MAX_VALUE_LENGTH = 1000
MAX_COMMENT_LENGTH = 2000
MAX_RRULE_LENGTH = 500
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")   # finer ones are not maintenance windows
# An exact (=) matcher on one of these indexes a silence (the first found, in this order); the
# silences indexed by a WIDE_FIELDS value are met by many events, so their regexes go in RE2 sets.
INDEXED_FIELDS = ("hostname", "rule_id", "source", "environment", "team")
WIDE_FIELDS = ("environment", "team")
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


class SilenceError(InvalidChange):
    """A silence refused as given (422), the message naming the field."""


_last_encoded: tuple[str, bytes] = ("", b"")


def _encoded(text: str) -> bytes:
    """``text`` as RE2 bytes; the last one is kept, as several regexes usually search one message.
    (One tuple, replaced whole: safe to share between threads.)"""
    global _last_encoded
    last = _last_encoded
    if last[0] is text:
        return last[1]
    data = patterns.encode(text)
    _last_encoded = (text, data)
    return data


class Matcher:
    """One condition on one field of an event; text is compared case-insensitively."""

    __slots__ = ("field", "op", "value", "_folded", "_regex", "_needs")

    def __init__(self, field: str, op: str, value: str, *, where: str = "matchers") -> None:
        self.field, self.op, self.value = field, op, value
        self._folded = value.casefold()
        self._regex = patterns.compile_pattern(value, field=f"{where}.value") if op == "=~" else None
        # a regex holds only where each of these options has a literal that occurs: a cheap test
        # first (a call into RE2 costs microseconds, and a silence on a host pattern is asked about
        # every event)
        self._needs = tuple(tuple(option) for option in patterns.literal_options(value)) if op == "=~" else ()

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "op": self.op, "value": self.value}

    def holds(self, value: str) -> bool:
        """``value``: the event's field as text ('' when absent)."""
        if self._regex is not None:
            if self._needs:
                folded = value.casefold()
                if not all(any(literal in folded for literal in option) for option in self._needs):
                    return False
            return self._regex.matches(_encoded(value))
        return self.compares(value.casefold())

    def compares(self, folded: str) -> bool:
        """Whether a text operator (not =~) holds for the event's field, already case-folded."""
        op = self.op
        if op == "=":
            return folded == self._folded
        if op == "!=":
            return folded != self._folded
        if op == "contains":
            return self._folded in folded
        return folded.startswith(self._folded)  # prefix


_RegexSets = dict[str, tuple[patterns.PatternSet, dict[Matcher, int]]]
_UNSEARCHED = frozenset({-1})


def _regex_sets(matchers: Iterable[Matcher]) -> _RegexSets:
    """One RE2 set per field that two or more regex matchers search, with each matcher's place in it."""
    by_field: dict[str, list[Matcher]] = {}
    for matcher in matchers:
        if matcher._regex is not None and matcher not in by_field.get(matcher.field, ()):
            by_field.setdefault(matcher.field, []).append(matcher)
    sets: _RegexSets = {}
    for field, found in by_field.items():
        if len(found) > 1:
            try:
                pattern_set = patterns.PatternSet([matcher._regex for matcher in found if matcher._regex is not None])
            except patterns.PatternError:
                continue  # too large together: each is searched on its own
            sets[field] = (pattern_set, {matcher: place for place, matcher in enumerate(found)})
    return sets


class _Fields:
    """One event's fields as silences read them: each looked up, case-folded and searched by its
    field's regex set at most once, however many silences ask."""

    __slots__ = ("_event", "_regex_sets", "_text", "_folded", "_found")

    def __init__(self, event: Mapping[str, Any], rule_id: str, environment: str, team: str,
                 regex_sets: _RegexSets) -> None:
        self._event = event
        self._regex_sets = regex_sets
        self._text = {"rule_id": rule_id, "environment": environment, "team": team}  # as MUTT decided them
        self._folded: dict[str, str] = {}
        self._found: dict[str, frozenset[int] | None] = {}

    def text(self, field: str) -> str:
        value = self._text.get(field)
        if value is None:
            raw = self._event.get("_key" if field == "source" else field)  # the sender's key or listener source name
            value = self._text[field] = "" if raw is None else raw if isinstance(raw, str) else str(raw)
        return value

    def hold(self, matchers: tuple[Matcher, ...]) -> bool:
        """Whether every matcher holds."""
        for matcher in matchers:
            field = matcher.field
            if matcher._regex is None:
                folded = self._folded.get(field)
                if folded is None:
                    folded = self._folded[field] = self.text(field).casefold()
                if not matcher.compares(folded):
                    return False
            elif not self._searched(matcher):
                return False
        return True

    def _searched(self, matcher: Matcher) -> bool:
        in_set = self._regex_sets.get(matcher.field)
        place = None if in_set is None else in_set[1].get(matcher)
        if in_set is not None and place is not None:
            found = self._found.get(matcher.field, _UNSEARCHED)
            if found is _UNSEARCHED:
                found = self._found[matcher.field] = in_set[0].search(_encoded(self.text(matcher.field)))
            if found is not None:
                return place in found
        return matcher.holds(self.text(matcher.field))


@dataclass(frozen=True)
class Schedule:
    """A recurring window: each occurrence of ``rrule`` (local time in ``time_zone``) opens a
    window of ``duration_seconds`` of real time (so a 2 h window is 2 h across a DST change)."""

    rrule: str
    duration_seconds: int
    time_zone: str


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Silence:
    """A stored silence, compiled: its matchers, its time, and when it holds."""

    def __init__(self, id: int | None, matchers: Iterable[Matcher], starts_at: datetime, ends_at: datetime | None = None,
                 schedule: Schedule | None = None, expired_at: datetime | None = None, comment: str = "",
                 created_by: str = "") -> None:
        self.id = id
        self.matchers = tuple(matchers)
        self.starts_at = _utc(starts_at)
        self.ends_at = None if ends_at is None else _utc(ends_at)
        self.schedule = schedule
        self.expired_at = None if expired_at is None else _utc(expired_at)
        self.comment, self.created_by = comment, created_by
        self._rule: dateutil_rrule.rrule | None = None
        self._zone: ZoneInfo | None = None
        if schedule is not None:
            self._zone = ZoneInfo(schedule.time_zone)
            self._rule = _parse_rrule(schedule.rrule, self.starts_at.astimezone(self._zone).replace(tzinfo=None, microsecond=0))

    @classmethod
    def of(cls, source: Any) -> Silence:
        """From a ``Silence`` model row or a mapping of its columns (as ``validate`` returns them)."""
        if isinstance(source, Silence):
            return source
        get: Callable[[str], Any] = (source.get if isinstance(source, Mapping)
                                     else lambda name: getattr(source, name, None))
        schedule = None
        if get("rrule"):
            schedule = Schedule(get("rrule"), int(get("duration_seconds")), get("time_zone") or "UTC")
        matchers = [Matcher(m["field"], m["op"], m["value"]) for m in get("matchers") or ()]
        return cls(get("id"), matchers, get("starts_at"), get("ends_at"), schedule, get("expired_at"),
                   get("comment") or "", get("created_by") or "")

    # -- time

    def _occurrence_utc(self, local: datetime) -> datetime:
        assert self._zone is not None
        return local.replace(tzinfo=self._zone).astimezone(UTC)

    def _last_end(self) -> datetime:
        """When this silence stops for good (expired, ends_at, or the schedule's last window)."""
        end = self.ends_at or _FAR_FUTURE
        if self.expired_at is not None:
            end = min(end, self.expired_at)
        return end

    def window(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The window (start, end) in force at ``at``, or the next one, or None when none is left."""
        at = _utc(at)
        last_end = self._last_end()
        if at >= last_end:
            return None
        if self._rule is None:
            return (self.starts_at, last_end) if self.ends_at is not None else None
        assert self.schedule is not None and self._zone is not None
        duration = timedelta(seconds=self.schedule.duration_seconds)
        # Local times are compared around ``at`` with two hours to spare for DST; the real start decides.
        local = at.astimezone(self._zone).replace(tzinfo=None)
        candidate = self._rule.before(local + timedelta(hours=2), inc=True)
        while candidate is not None and self._occurrence_utc(candidate) > at:
            candidate = self._rule.before(candidate)
        if candidate is not None:
            start = self._occurrence_utc(candidate)
            if at < start + duration:
                return start, min(start + duration, last_end)
        following = self._rule.after(local - timedelta(hours=2))
        while following is not None and self._occurrence_utc(following) <= at:
            following = self._rule.after(following)
        if following is None or self._occurrence_utc(following) >= last_end:
            return None
        start = self._occurrence_utc(following)
        return start, min(start + duration, last_end)

    def state(self, at: datetime) -> str:
        window = self.window(at)
        if window is None:
            return EXPIRED
        return ACTIVE if window[0] <= _utc(at) else PENDING

    # -- events

    def holds(self, event: Mapping[str, Any], *, rule_id: str = "", environment: str = "", team: str = "") -> bool:
        """Whether every matcher holds for ``event`` (``rule_id``, ``environment``, ``team`` as decided)."""
        return _Fields(event, rule_id, environment, team, {}).hold(self.matchers)

    def index_key(self) -> tuple[str, str] | None:
        """(field, folded value) of the exact matcher this silence is indexed by, or None."""
        for field in INDEXED_FIELDS:
            for matcher in self.matchers:
                if matcher.field == field and matcher.op == "=":
                    return field, matcher.value.casefold()
        return None

    def _rest(self) -> tuple[Matcher, ...]:
        """The matchers left to check once the index found this silence, regexes last (dearest)."""
        key = self.index_key()
        rest = [m for m in self.matchers if key is None or (m.field, m.op, m.value.casefold()) != (key[0], "=", key[1])]
        return tuple(sorted(rest, key=lambda m: m.op == "=~"))


_Entry = tuple[int, tuple[Matcher, ...], Silence]   # (id, the matchers left to check, the silence)


class _Active:
    """The silences in force over one stretch of time, indexed by one exact (=) matcher on a field
    of ``INDEXED_FIELDS``; the others (``general``) are checked for every event."""

    __slots__ = ("indexed", "general", "regex_sets", "until", "count")

    def __init__(self, silences: list[Silence], until: datetime) -> None:
        self.indexed: dict[str, dict[str, list[_Entry]]] = {}
        self.general: list[_Entry] = []
        self.until = until
        self.count = len(silences)
        for silence in sorted(silences, key=lambda s: s.id or 0):
            key = silence.index_key()
            entry = (silence.id or 0, silence._rest(), silence)
            if key is None:
                self.general.append(entry)
            else:
                self.indexed.setdefault(key[0], {}).setdefault(key[1], []).append(entry)
        # the regexes many events meet: those of silences indexed by environment or team, or by nothing
        widely_met = [entry for field in WIDE_FIELDS for entries in self.indexed.get(field, {}).values() for entry in entries]
        self.regex_sets = _regex_sets(matcher for entry in widely_met + self.general for matcher in entry[1])

    def first(self, event: Mapping[str, Any], rule_id: str, environment: str, team: str) -> Silence | None:
        """The silence with the lowest id whose matchers all hold, or None."""
        lists = []
        for field, index in self.indexed.items():
            if field == "hostname" or field == "source":
                raw = event.get("_key" if field == "source" else field)
                value = raw.casefold() if isinstance(raw, str) else ""
            else:
                value = (rule_id if field == "rule_id" else environment if field == "environment" else team).casefold()
            if value and (found := index.get(value)):
                lists.append(found)
        if self.general:
            lists.append(self.general)
        best: _Entry | None = None
        fields = None
        for entries in lists:
            for entry in entries:
                if best is not None and entry[0] >= best[0]:
                    break
                if entry[1] and fields is None:
                    fields = _Fields(event, rule_id, environment, team, self.regex_sets)
                if not entry[1] or (fields is not None and fields.hold(entry[1])):
                    best = entry
                    break
        return None if best is None else best[2]


class SilenceSet:
    """The silences one process matches with: which silence mutes an event now.

    The index of the silences in force is replaced whole when a window opens or closes, never
    changed in place, so threads may share a set.
    """

    def __init__(self, silences: Iterable[Silence] = (), version: str | None = None) -> None:
        self.silences = tuple(silences)
        self.version = version
        self._active: _Active | None = None

    def __len__(self) -> int:
        return len(self.silences)

    def active(self, now: datetime) -> _Active:
        """The silences in force at ``now``, indexed; rebuilt only once a window opened or closed."""
        current = self._active
        if current is not None and now < current.until:
            return current
        in_force, until = [], _FAR_FUTURE
        for silence in self.silences:
            window = silence.window(now)
            if window is None:
                continue
            if window[0] <= now:
                in_force.append(silence)
                until = min(until, window[1])
            else:
                until = min(until, window[0])
        self._active = _Active(in_force, until)
        return self._active

    def silencing(self, event: Mapping[str, Any], *, now: datetime, rule_id: int | None = None,
                  environment: str = "", team: str = "", clears: bool = False) -> int | None:
        """The id of the silence that mutes ``event`` at ``now`` (the lowest id when several do),
        or None. ``environment`` and ``team`` as MUTT decided them; a clear is never silenced (the
        alert it closes may have been opened before the silence)."""
        if clears or not self.silences:
            return None
        active = self.active(now)
        if not active.count:
            return None
        found = active.first(event, "" if rule_id is None else str(rule_id), environment or "", team or "")
        return None if found is None else found.id

    def is_silenced(self, event: Mapping[str, Any], **context: Any) -> bool:
        """Whether a silence mutes ``event`` (the arguments of ``silencing``)."""
        return self.silencing(event, **context) is not None


EMPTY = SilenceSet()


# -- validation


def _parse_rrule(text: str, dtstart: datetime) -> dateutil_rrule.rrule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = dateutil_rrule.rrulestr(text, dtstart=dtstart, ignoretz=True)
    if not isinstance(parsed, dateutil_rrule.rrule):
        raise ValueError("one RRULE expected")
    return parsed


def _text(fields: Mapping[str, Any], name: str, *, limit: int, required: bool = True) -> str:
    value = fields.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise SilenceError(f"{name} is required: a non-empty string")
    if len(value) > limit:
        raise SilenceError(f"{name} is too long: {len(value)} characters, at most {limit}")
    return value.strip()


def _time(fields: Mapping[str, Any], name: str) -> datetime | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _utc(value)
    if not isinstance(value, str):
        raise SilenceError(f"{name} must be an ISO 8601 date and time, e.g. 2026-12-06T02:00:00Z")
    try:
        return _utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise SilenceError(f"{name} is not an ISO 8601 date and time: {value[:60]!r}") from None


def validate_matchers(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise SilenceError("matchers is required: a non-empty list of {field, op, value} (a silence matching "
                           "everything is refused)")
    if len(value) > MAX_MATCHERS:
        raise SilenceError(f"matchers: {len(value)} given, at most {MAX_MATCHERS}")
    checked = []
    for position, matcher in enumerate(value):
        where = f"matchers[{position}]"
        if not isinstance(matcher, Mapping):
            raise SilenceError(f"{where} must be an object {{field, op, value}}")
        unknown = set(matcher) - {"field", "op", "value"}
        if unknown:
            raise SilenceError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        field, op, text = matcher.get("field"), matcher.get("op"), matcher.get("value")
        if field not in FIELDS:
            raise SilenceError(f"{where}.field: unknown field {field!r}; one of {', '.join(FIELDS)}")
        if op not in OPS:
            raise SilenceError(f"{where}.op: unknown op {op!r}; one of {', '.join(OPS)}")
        if isinstance(text, int) and not isinstance(text, bool) and field == "rule_id":
            text = str(text)
        if not isinstance(text, str) or len(text) > MAX_VALUE_LENGTH:
            raise SilenceError(f"{where}.value must be a string of at most {MAX_VALUE_LENGTH} characters")
        if op in ("contains", "prefix", "=~") and not text:
            raise SilenceError(f"{where}.value must not be empty with op {op}")
        try:
            Matcher(field, op, text, where=where)
        except patterns.PatternError as error:
            raise SilenceError(str(error)) from None
        checked.append({"field": field, "op": op, "value": text})
    return checked


def validate(fields: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    """What a user sent (API, CLI, rules YAML), checked: the columns to store, or SilenceError
    naming the field. ``starts_at`` defaults to ``now``."""
    if not isinstance(fields, Mapping):
        raise SilenceError("a silence is a JSON object")
    known = {"matchers", "starts_at", "ends_at", "schedule", "comment", "id", "created_by", "state",
             "created_at", "updated_at", "expired_at", "reason"}
    unknown = set(fields) - known
    if unknown:
        raise SilenceError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    matchers = validate_matchers(fields.get("matchers"))
    comment = _text(fields, "comment", limit=MAX_COMMENT_LENGTH)
    starts_at = (_time(fields, "starts_at") or _utc(now)).replace(microsecond=0)
    ends_at = _time(fields, "ends_at")
    schedule = fields.get("schedule")
    columns: dict[str, Any] = {"matchers": matchers, "comment": comment, "starts_at": starts_at, "ends_at": ends_at,
                               "rrule": None, "duration_seconds": None, "time_zone": None}
    if ends_at is not None and ends_at <= starts_at:
        raise SilenceError("ends_at must be after starts_at")
    if schedule is None:
        if ends_at is None:
            raise SilenceError("ends_at is required (or a recurring schedule)")
        if ends_at - starts_at > MAX_WINDOW:
            raise SilenceError(f"the window from starts_at to ends_at is longer than a year ({MAX_WINDOW.days} days)")
        return columns
    columns["starts_at"] = starts_at = starts_at.replace(second=0)  # occurrences take their seconds from it
    columns.update(_validate_schedule(schedule, starts_at, ends_at))
    return columns


def _validate_schedule(schedule: Any, starts_at: datetime, ends_at: datetime | None) -> dict[str, Any]:
    if not isinstance(schedule, Mapping):
        raise SilenceError("schedule must be an object {rrule, duration_seconds, time_zone}")
    unknown = set(schedule) - {"rrule", "duration_seconds", "time_zone"}
    if unknown:
        raise SilenceError(f"schedule: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    text = schedule.get("rrule")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_RRULE_LENGTH:
        raise SilenceError(f"schedule.rrule is required: an RFC 5545 RRULE of at most {MAX_RRULE_LENGTH} characters, "
                           "e.g. FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0")
    text = text.strip().removeprefix("RRULE:")
    if "\n" in text or ":" in text:
        raise SilenceError("schedule.rrule: one RRULE only, without DTSTART (starts_at is the start)")
    if "BYHOUR=" in text.upper() and "BYMINUTE=" not in text.upper():
        text += ";BYMINUTE=0"  # else the minute would be starts_at's: BYHOUR=2 means 02:00
    duration = schedule.get("duration_seconds")
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 60:
        raise SilenceError("schedule.duration_seconds must be a whole number of seconds, at least 60")
    if duration > MAX_WINDOW.total_seconds():
        raise SilenceError(f"schedule.duration_seconds: a window longer than a year ({MAX_WINDOW.days} days)")
    zone_name = schedule.get("time_zone", "UTC")
    try:
        if not isinstance(zone_name, str) or not zone_name:
            raise ValueError
        zone = ZoneInfo(zone_name)
    except (ValueError, ZoneInfoNotFoundError):
        raise SilenceError(f"schedule.time_zone: unknown time zone {zone_name!r} (an IANA name, e.g. Europe/London)") from None
    local_start = starts_at.astimezone(zone).replace(tzinfo=None, microsecond=0)
    try:
        rule = _parse_rrule(text, local_start)
    except (ValueError, TypeError) as error:
        raise SilenceError(f"schedule.rrule is not a valid RRULE: {error}") from None
    if rule._freq not in [getattr(dateutil_rrule, name) for name in FREQUENCIES]:
        raise SilenceError(f"schedule.rrule: FREQ must be one of {', '.join(FREQUENCIES)}")
    first = _first_occurrence(rule, local_start)
    if (first is None or first - local_start > MAX_WINDOW or (rule._until is not None and first > rule._until)
            or (ends_at is not None and first.replace(tzinfo=zone).astimezone(UTC) >= ends_at)):
        raise SilenceError("schedule.rrule never occurs (no occurrence within a year of starts_at, before ends_at)")
    return {"rrule": text, "duration_seconds": duration, "time_zone": zone_name}


_CYCLE_YEARS = 400   # the Gregorian calendar repeats exactly (weekdays, leap years) every 400 years


def _first_occurrence(rule: Any, local_start: datetime) -> datetime | None:
    """The rule's first occurrence from ``local_start``, cheaply even for a rule that never occurs.

    dateutil walks period by period until year 9999 looking for an impossible date (30 February,
    daily: 3 million periods, seconds of CPU). The same search is run 400*k years later, where at
    most ~400 years are left before 9999, and the answer moved back: same calendar, bounded cost."""
    shift = _CYCLE_YEARS * ((9597 - local_start.year) // _CYCLE_YEARS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shifted = rule.replace(dtstart=local_start.replace(year=local_start.year + shift), until=None, count=None)
        first = shifted.after(shifted._dtstart, inc=True)
    return None if first is None else first.replace(year=first.year - shift)


_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, field: str) -> int:
    """'90s', '30m', '2h', '1d', '1w' -> seconds, or SilenceError naming ``field``."""
    found = _DURATION.match(text or "")
    if not found:
        raise SilenceError(f"{field}: a duration such as 30m, 2h or 1d, not {str(text)[:40]!r}")
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)]
