"""Rules, development hosts and device teams as code: one YAML document, exported and imported.

An import makes the stored rule book equal to the document: it first works out the plan (what is
created, changed, deleted), refuses the whole document if any part of it is invalid, and then
applies the plan through rule_store and host_store in one transaction, so every change is validated
and audited like one made in the UI, and a failure half-way changes nothing.

Rules are matched by ``id``, or, without one, by name (a stored rule of that name not listed by
id); a rule matching none is new; a stored rule the document does not list is deleted (soft).
Hosts and teams are matched by hostname, case-insensitively.

A document is untrusted input: one larger than ``MAX_DOCUMENT_BYTES`` is refused before it is
read, and one whose YAML would expand (anchors and aliases, "billion laughs") to more than
``MAX_NODES`` values, nests deeper than Python can parse, or repeats a key is refused before it
is turned into Python objects. Every problem names the rule (its position and name) and field.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import yaml
from sqlalchemy.orm import Session

from mutt_app.errors import InvalidChange
from mutt_app.rules import host_store, rule_store, validation
from mutt_app.storage.models import Rule
from mutt_app.suppression import silence_store
from mutt_app.suppression.silences import SilenceError
from mutt_app.suppression.silences import validate as validate_silence

HEADER = """\
# MUTT rule book: rules (first match by priority, then id), development hosts, device teams.
# Edit and apply with `mutt rules import FILE` (shows the changes first; --dry-run changes nothing).
# A rule is matched by id, else by name; an unmatched rule is created; a stored rule not listed is deleted.
"""


MAX_DOCUMENT_BYTES = 5 * 1024 * 1024  # a rule book of 10,000 rules is about 3 MiB
MAX_NODES = 1_000_000                # YAML values after expanding aliases; 10,000 rules are ~300,000
SHOWN = 60                           # characters of a value quoted in a problem


class DocumentError(InvalidChange):
    """The document cannot be imported; the message lists every problem."""


def _show(value: Any) -> str:
    """``value`` quoted briefly (reprlib: a few items, a few levels, whatever its size)."""
    text = reprlib.repr(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN - 3] + "..."


@dataclass
class Change:
    kind: str          # rule | development_host | device_team
    action: str        # create | update | delete
    key: Any           # rule id (None for a new rule) or hostname
    label: str         # what an operator recognises: a rule's name, a hostname
    fields: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (old, new)

    def describe(self) -> str:
        sign = {"create": "+", "update": "~", "delete": "-"}[self.action]
        if self.kind == "rule":
            who = f"rule {self.key} ({self.label})" if self.key is not None else f"new rule ({self.label})"
        else:
            who = f"{self.kind.replace('_', ' ')} {self.label}"
        return "\n".join([f"{sign} {who}"] + [f"    {name}: {old!r} -> {new!r}" for name, (old, new) in self.changes.items()])


def _rule_fields(rule: Rule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in validation.EDITABLE}


def export(session: Session) -> str:
    """The rule book as a YAML document."""
    rules = []
    for rule in rule_store.list_rules(session):
        fields = {name: value for name, value in _rule_fields(rule).items() if value not in (None, "")}
        rules.append({"id": rule.id, **fields})
    document = {
        "rules": rules,
        "development_hosts": [row["hostname"] for row in host_store.list_dev_hosts(session)],
        "device_teams": {row["hostname"]: row["team_assignment"] for row in host_store.list_teams(session)},
        "silences": export_silences(session),
    }
    return HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def read(path: Path) -> str:
    """The text of the document at ``path``; DocumentError when it is too large or not UTF-8.
    At most ``MAX_DOCUMENT_BYTES`` + 1 bytes are read, whatever the file's size."""
    with open(path, "rb") as file:
        data = file.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"{path}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB; nothing imported")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); nothing imported") from None


def _checked(node: yaml.Node) -> None:
    """Refuse a composed document that expands past ``MAX_NODES`` values (each alias counts
    what it repeats, every time) or repeats a key in a mapping. Iterative, memoised per node:
    linear in the document however its aliases nest."""
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        if id(current) in expanded:
            continue
        if isinstance(current, yaml.ScalarNode):
            expanded[id(current)] = 1
            continue
        children = ([child for pair in current.value for child in pair] if isinstance(current, yaml.MappingNode)
                    else list(current.value))
        if not children_done:
            if isinstance(current, yaml.MappingNode):
                seen: set[str] = set()
                for key, _ in current.value:
                    if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                        if key.value in seen:
                            raise DocumentError(f"line {key.start_mark.line + 1}: the key {key.value[:SHOWN]} is "
                                                f"given twice in one mapping; nothing imported")
                        seen.add(key.value)
            stack.append((current, True))
            stack.extend((child, False) for child in children if id(child) not in expanded)
            continue
        expanded[id(current)] = 1 + sum(expanded[id(child)] for child in children)
        if expanded[id(current)] > MAX_NODES:
            raise DocumentError(f"the document expands to more than {MAX_NODES:,} values (anchors and aliases "
                                f"repeating each other?); nothing imported")


def parse(text: str) -> dict[str, Any]:
    """The document in ``text``, checked for size, alias expansion and repeated keys before any
    of it becomes Python objects; DocumentError otherwise."""
    if len(text) > MAX_DOCUMENT_BYTES:  # characters: at least as many bytes
        raise DocumentError(f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB; nothing imported")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            document = None
        else:
            _checked(node)
            document = loader.construct_document(node)
    except yaml.YAMLError as error:
        raise DocumentError(f"not valid YAML: {error}") from None
    except RecursionError:
        raise DocumentError("not valid YAML: nested too deeply; nothing imported") from None
    except (ValueError, OverflowError) as error:  # a scalar its tag cannot hold: 2024-13-45, a 5,000-digit number
        raise DocumentError(f"not valid YAML: a value cannot be read ({_clip(str(error), 120)}); nothing imported") from None
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        raise DocumentError("the document must be a mapping with rules, development_hosts and device_teams")
    unknown = sorted(str(key)[:SHOWN] for key in set(document) - {"rules", "development_hosts", "device_teams", "silences"})
    if unknown:
        raise DocumentError(f"unknown section(s) {', '.join(unknown)}; known: rules, development_hosts, device_teams, "
                            "silences")
    if "silences" in document and not isinstance(document["silences"], list):
        raise DocumentError("silences must be a list (leave the section out to keep the stored silences as they are)")
    document.setdefault("rules", [])
    document.setdefault("development_hosts", [])
    document.setdefault("device_teams", {})
    if not isinstance(document["rules"], list):
        raise DocumentError("rules must be a list")
    if not isinstance(document["development_hosts"], list):
        raise DocumentError("development_hosts must be a list of hostnames")
    if not isinstance(document["device_teams"], dict):
        raise DocumentError("device_teams must be a mapping hostname: team")
    return document


def plan(session: Session, document: dict[str, Any]) -> list[Change]:
    """What an import of ``document`` would change, or DocumentError listing every problem."""
    problems: list[str] = []
    changes: list[Change] = []
    stored = {rule.id: rule for rule in rule_store.list_rules(session)}
    items = document["rules"]
    by_id = {item.get("id") for item in items if isinstance(item, dict) and _is_id(item.get("id"))}
    by_name: dict[str, list[int]] = {}
    for rule in stored.values():
        if rule.id not in by_id:
            by_name.setdefault(rule.name, []).append(rule.id)
    listed: set[int] = set()
    for position, item in enumerate(items, start=1):
        where = f"rules[{position}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: a rule must be a mapping of field: value, got {_show(item)}")
            continue
        name = item.get("name")
        where += f" ({name[:SHOWN] if isinstance(name, str) and name else 'unnamed'})"
        odd_keys = [key for key in item if not isinstance(key, str)]
        if odd_keys:
            problems.append(f"{where}: field names must be text, got {_show(odd_keys[0])}")
            continue
        fields = {k: v for k, v in item.items() if k != "id"}
        rule_id = item.get("id")
        if rule_id is not None and not _is_id(rule_id):
            problems.append(f"{where}: id must be a whole number (a stored rule's id), got {_show(rule_id)}")
            continue
        try:
            wanted = validation.validate_rule_fields(fields)
        except validation.RuleError as error:
            problems.append(f"{where}: {_clip(str(error))}")
            continue
        if rule_id is None:
            namesakes = by_name.get(fields.get("name") or "", [])
            if len(namesakes) > 1:
                problems.append(f"{where}: several stored rules are named {fields['name']!r}; give the id")
                continue
            if not namesakes:
                changes.append(Change("rule", "create", None, wanted["name"], fields=fields))
                continue
            rule_id = namesakes[0]
        if rule_id not in stored:
            problems.append(f"{where}: no rule with id {rule_id!r} (leave the id out to create a rule)")
            continue
        if rule_id in listed:
            problems.append(f"{where}: rule {rule_id} is listed twice")
            continue
        listed.add(rule_id)
        current = _rule_fields(stored[rule_id])
        wanted = {name: wanted.get(name) for name in validation.EDITABLE}
        if "name" not in fields:
            wanted["name"] = current["name"]  # a generated name is not a change
        differing = {name: (current[name], wanted[name]) for name in validation.EDITABLE if current[name] != wanted[name]}
        if differing:
            changes.append(Change("rule", "update", rule_id, stored[rule_id].name,
                                  fields={name: new for name, (_, new) in differing.items()}, changes=differing))
    for rule_id in sorted(set(stored) - listed):
        changes.append(Change("rule", "delete", rule_id, stored[rule_id].name))

    hosts = {row["hostname"].lower(): row["hostname"] for row in host_store.list_dev_hosts(session)}
    wanted_hosts: dict[str, str] = {}
    for hostname in document["development_hosts"]:
        if not isinstance(hostname, str) or not validation.HOSTNAME.match(hostname.strip()):
            problems.append(f"development_hosts: {_show(hostname)} is not a hostname")
            continue
        wanted_hosts[hostname.strip().lower()] = hostname.strip()
    changes += [Change("development_host", "create", wanted_hosts[h], wanted_hosts[h]) for h in wanted_hosts if h not in hosts]
    changes += [Change("development_host", "delete", hosts[h], hosts[h]) for h in hosts if h not in wanted_hosts]

    teams = {row["hostname"].lower(): (row["hostname"], row["team_assignment"]) for row in host_store.list_teams(session)}
    wanted_teams: dict[str, tuple[str, str]] = {}
    for hostname, team in document["device_teams"].items():
        if not isinstance(hostname, str) or not validation.HOSTNAME.match(hostname.strip()):
            problems.append(f"device_teams: {_show(hostname)} is not a hostname")
        elif not isinstance(team, str) or not team.strip() or len(team.strip()) > 100:
            problems.append(f"device_teams: {hostname}: the team must be a name of 1-100 characters, got {_show(team)}")
        else:
            wanted_teams[hostname.strip().lower()] = (hostname.strip(), team.strip())
    for key, (hostname, team) in wanted_teams.items():
        if key not in teams:
            changes.append(Change("device_team", "create", hostname, f"{hostname}: {team}", fields={"team": team}))
        elif teams[key][1] != team:
            changes.append(Change("device_team", "update", teams[key][0], teams[key][0], fields={"team": team},
                                  changes={"team_assignment": (teams[key][1], team)}))
    changes += [Change("device_team", "delete", hostname, hostname) for key, (hostname, _) in teams.items()
                if key not in wanted_teams]
    if "silences" in document:
        changes += plan_silences(session, document["silences"], problems)
    if problems:
        raise DocumentError("nothing imported:\n  " + "\n  ".join(problems))
    return changes


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _clip(problem: str, limit: int = 300) -> str:
    """A problem on one line of bounded length (a value quoted in it may be anything)."""
    problem = " ".join(problem.split())
    return problem if len(problem) <= limit else problem[:limit - 3] + "..."


class _Audit(TypedDict):
    actor: str
    reason: str


def apply(session: Session, changes: list[Change], *, actor: str, reason: str,
          progress: Callable[[Change], None] | None = None) -> None:
    """Make ``changes`` through rule_store and host_store (validated, audited) in ``session``'s transaction."""
    audit = _Audit(actor=actor, reason=reason)
    for change in changes:
        if change.kind == "silence":
            apply_silence(session, change, actor=actor, reason=reason)
        elif change.kind == "rule":
            if change.action == "create":
                rule_store.create_rule(session, change.fields, **audit)
            elif change.action == "update":
                rule_store.update_rule(session, change.key, change.fields, **audit)
            else:
                rule_store.delete_rule(session, change.key, **audit)
        elif change.kind == "development_host":
            if change.action == "create":
                host_store.add_dev_host(session, change.key, **audit)
            else:
                host_store.remove_dev_host(session, change.key, **audit)
        elif change.action == "delete":
            host_store.remove_team(session, change.key, **audit)
        else:
            host_store.set_team(session, change.key, change.fields["team"], **audit)
        if progress:
            progress(change)


# Silences: the section lists those not over (active, pending). Left out of a document, the stored
# silences are kept as they are; given, it is made equal: matched by id, new ones created, stored
# ones not listed expired (kept, like every expired silence).
SILENCE_FIELDS = ("matchers", "starts_at", "ends_at", "schedule", "comment")


def export_silences(session: Session) -> list[dict[str, Any]]:
    silences = []
    for row in reversed(silence_store.list_silences(session)):
        shown = silence_store.to_dict(row)
        if shown["state"] != "expired":
            silences.append({"id": row.id, **{name: shown[name] for name in SILENCE_FIELDS if shown[name] is not None}})
    return silences


def plan_silences(session: Session, items: list[Any], problems: list[str]) -> list[Change]:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    stored = {row.id: row for row in silence_store.list_silences(session)
              if silence_store.to_dict(row, now=now)["state"] != "expired"}
    changes, listed = [], set()
    for position, item in enumerate(items, start=1):
        where = f"silences[{position}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: a silence must be a mapping, got {_show(item)}")
            continue
        silence_id, fields = item.get("id"), {k: v for k, v in item.items() if k != "id"}
        try:
            wanted = validate_silence(fields, now=now)
        except SilenceError as error:
            problems.append(f"{where}: {_clip(str(error))}")
            continue
        if silence_id is None:
            changes.append(Change("silence", "create", None, f"new ({_clip(wanted['comment'], SHOWN)})", fields=fields))
            continue
        if not _is_id(silence_id) or silence_id not in stored:
            problems.append(f"{where}: no silence in force with id {_show(silence_id)} (leave the id out to create one)")
            continue
        listed.add(silence_id)
        row = stored[silence_id]
        differing = {name: (getattr(row, name), value) for name, value in wanted.items() if getattr(row, name) != value}
        if differing:
            changes.append(Change("silence", "update", silence_id, f"{silence_id} ({_clip(row.comment, SHOWN)})", fields=fields,
                                  changes=differing))
    changes += [Change("silence", "delete", silence_id, f"{silence_id} ({_clip(row.comment, SHOWN)})")
                for silence_id, row in sorted(stored.items()) if silence_id not in listed]
    return changes


def apply_silence(session: Session, change: Change, *, actor: str, reason: str) -> None:
    if change.action == "create":
        silence_store.create(session, change.fields, actor=actor)
    elif change.action == "update":
        silence_store.update(session, change.key, change.fields, actor=actor)
    else:
        silence_store.expire(session, change.key, actor=actor, reason=reason)
