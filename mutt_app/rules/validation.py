"""What a rule, a development host and a device team must be: fields checked and cleaned before
they are stored, and RuleError saying why a change is refused."""

from __future__ import annotations

import re
from typing import Any

from mutt_app.core import params
from mutt_app.errors import Conflict, InvalidChange
from mutt_app.rules.matcher import Rule as MatcherRule
from mutt_app.rules.matcher import handling, handling_problem, rule_problem, syslog_severity
from mutt_app.storage.models import HANDLINGS, MATCH_TYPES, Rule

# Moogsoft's severities: 0 Clear, 1 Indeterminate, 2 Warning, 3 Minor, 4 Major, 5 Critical.
MOOG_SEVERITIES = {"clear": 0, "indeterminate": 1, "info": 1, "warning": 2, "minor": 3, "major": 4, "critical": 5}
MOOG_SEVERITY_NAMES = {0: "Clear", 1: "Indeterminate", 2: "Warning", 3: "Minor", 4: "Major", 5: "Critical"}

EDITABLE = ("name", "description", "match_string", "trap_oid", "syslog_severity", "match_type", "priority",
            "prod_handling", "dev_handling", "team_assignment", "moog_severity", "is_active",
            "clear_match_string", "clear_trap_oid")
PATTERNS = ("match_string", "clear_match_string")  # kept as written: blanks may be part of the pattern
READ_ONLY = ("id", "created_at", "updated_at", "created_by", "updated_by", "deleted_at", "moog_severity_name", "problem")
REQUIRED = ("prod_handling", "dev_handling", "team_assignment")
INT_MAX = 2**31 - 1
HOSTNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")


class RuleError(InvalidChange):
    """A change that is refused; the message says why."""


class AlreadyExists(Conflict, RuleError):
    """The thing to add is already there (HTTP 409)."""


def _text(fields: dict[str, Any], name: str, limit: int, *, required: bool = False, empty_is_none: bool = False) -> Any:
    value = fields[name]
    if value is None:
        if required:
            raise RuleError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise RuleError(f"{name} must be a string, got {type(value).__name__}")
    value = value.strip() if name not in PATTERNS else value
    if not value:
        if required:
            raise RuleError(f"{name} must not be empty")
        return None if empty_is_none else ""
    if len(value) > limit:
        raise RuleError(f"{name} is longer than {limit} characters")
    return value


def _integer(fields: dict[str, Any], name: str, low: int, high: int) -> int:
    value = fields[name]
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RuleError(f"{name} must be an integer, got {type(value).__name__}")
    try:
        number = params.whole_number(value, name)
    except params.ParamError:
        raise RuleError(f"{name} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise RuleError(f"{name} must be between {low} and {high}, got {number}")
    return number


def moog_severity(value: Any) -> int:
    """0-5, or a name (Critical, Major, Minor, Warning, Indeterminate/Info, Clear) -> 0-5."""
    if isinstance(value, str) and value.strip().lower() in MOOG_SEVERITIES:
        return MOOG_SEVERITIES[value.strip().lower()]
    try:
        number = params.whole_number(value, "moog_severity", minimum=0)
    except params.ParamError:
        raise RuleError(f"moog_severity must be 0-5 or one of Critical, Major, Minor, Warning, Info, Clear; got {value!r}") from None
    if number > 5:
        raise RuleError(f"moog_severity must be 0-5, got {number}")
    return number


def validate_rule_fields(fields: Any, partial: bool = False) -> dict[str, Any]:
    """The cleaned, typed rule fields of ``fields``, or RuleError saying what is wrong.

    With ``partial`` only the given fields are checked (an update); the combined rule is checked
    by ``rule_store.update_rule``. Read-only fields (id, timestamps) are ignored so a GET body can be PUT back.
    """
    if not isinstance(fields, dict):
        raise RuleError("the rule must be a JSON object")
    unknown = sorted(set(fields) - set(EDITABLE) - set(READ_ONLY))
    if unknown:
        raise RuleError(f"unknown field(s): {', '.join(unknown)}; a rule has {', '.join(EDITABLE)}")
    given = {name: fields[name] for name in EDITABLE if name in fields}
    if not partial:
        missing = [name for name in REQUIRED if given.get(name) in (None, "")]
        if missing:
            raise RuleError(f"missing required field(s): {', '.join(missing)}")
    clean: dict[str, Any] = {}
    for name in given:
        if name in ("match_string", "trap_oid", "clear_match_string", "clear_trap_oid"):
            clean[name] = _text(given, name, 255, empty_is_none=True)
        elif name == "name":
            clean[name] = _text(given, name, 120) or None
        elif name == "description":
            clean[name] = _text(given, name, 10_000) or ""
        elif name in ("prod_handling", "dev_handling"):
            value = _text(given, name, 100, required=True)
            clean[name] = handling(value)
            if clean[name] is None:
                raise RuleError(f"{name} must be one of {', '.join(HANDLINGS)} (any case), got {value!r}")
        elif name in REQUIRED:
            clean[name] = _text(given, name, 100, required=True)
        elif name == "match_type":
            value = given[name]
            if value not in MATCH_TYPES:
                raise RuleError(f"match_type must be one of {', '.join(MATCH_TYPES)}, got {value!r}")
            clean[name] = value
        elif name == "syslog_severity":
            value = given[name]
            if value is None or value == "":
                clean[name] = None
            else:
                number = syslog_severity(value)
                if number is None:
                    raise RuleError(f"syslog_severity must be 0-7 or a syslog severity name (Emergency ... Debug), got {value!r}")
                clean[name] = number
        elif name == "priority":
            clean[name] = _integer(given, name, -INT_MAX, INT_MAX)
        elif name == "moog_severity":
            clean[name] = moog_severity(given[name])
        elif name == "is_active":
            if not isinstance(given[name], bool):
                raise RuleError("is_active must be true or false")
            clean[name] = given[name]
    if not partial:
        clean.setdefault("match_type", "contains")
        clean.setdefault("priority", 100)
        clean.setdefault("moog_severity", 3)
        clean.setdefault("is_active", True)
        clean.setdefault("description", "")
        check_whole(clean)
    return clean


def check_whole(values: dict[str, Any]) -> None:
    """Refuse a rule that could never match or not compile; give it a name if it has none."""
    if not values.get("match_string") and not values.get("trap_oid"):
        raise RuleError("a rule needs a match_string or a trap_oid (no criteria would match nothing)")
    rule = MatcherRule.of(values)
    problem = rule_problem(rule) or (handling_problem(rule) if rule.is_active else None)  # disabling stays possible
    if problem:
        raise RuleError(problem)
    if not values.get("name"):
        values["name"] = f"{values.get('match_type', 'contains')} {values.get('match_string') or values.get('trap_oid')}"[:120]


def stored_rule_problem(rule: Rule) -> str | None:
    """Why a stored rule is invalid (written around validation: by hand in SQL, or by an older
    MUTT, e.g. a regex RE2 refuses or a handling typo); None when it is sound."""
    matcher_rule = MatcherRule.of(rule)
    return rule_problem(matcher_rule) or handling_problem(matcher_rule)


def valid_hostname(value: Any) -> str:
    if not isinstance(value, str) or not HOSTNAME.match(value.strip()):
        raise RuleError("hostname must be 1-255 characters of letters, digits, '.', '-', '_' or ':'")
    return value.strip()


def valid_team(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 100:
        raise RuleError("team_assignment must be a non-empty string of at most 100 characters")
    return value.strip()
