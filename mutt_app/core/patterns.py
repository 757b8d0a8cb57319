"""Regular expressions that come from outside (rule patterns, dry-run candidates, imports): RE2.

Python's ``re`` backtracks: ``(a+)+$`` against 34 ``a`` and a ``!`` runs for hours, holding a web
thread or an alerter worker. RE2 (``google-re2``) never backtracks; a search costs at most about
(program size x bytes of text) steps. Both factors are bounded here, so every evaluation is:

- a pattern whose compiled program is larger than ``MAX_PROGRAM_SIZE`` instructions is refused
  (counted repetitions such as ``.{1,99}`` and Unicode classes such as ``\\pL`` multiply it);
- a pattern is searched in at most ``MATCH_BUDGET // program size`` bytes of the text (its
  *window*: 128 KiB and more for a typical pattern, 4 KiB at the largest allowed one). The worst
  measured cost per (instruction x byte) is about 12 ns, so one search stays below ~100 ms
  however the pattern and the text were crafted.

RE2 has no backreferences, lookaround, atomic groups, possessive quantifiers, conditionals,
comments or verbose mode; such a pattern is refused with a message naming what is unsupported.
Python's ``\\Z`` is RE2's ``\\z`` and is rewritten. ``a{,3}`` (a repetition in Python, literal
text in RE2) is refused: write ``a{0,3}``. Named groups ``(?P<name>...)`` work as in Python.
docs/rules.md lists the remaining differences (``\\d``, ``\\w``, ``\\s``, ``\\b`` are ASCII;
``$`` does not match before a final newline).

Fixed patterns written in MUTT's own code (event parsing, the roll-up's masks) stay on ``re``:
they are reviewed, have no nested quantifiers, and are tested linear on adversarial input.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from re import _parser as sre_parse  # type: ignore[attr-defined]  # re's own parser: typeshed has no stub
from typing import Any

import re2

from mutt_app.errors import InvalidInput

MAX_PROGRAM_SIZE = 2000       # RE2 instructions; docs/rules.md
MATCH_BUDGET = 8_000_000      # instructions x bytes per search: ~100 ms at the worst measured cost

# What RE2 does not support, by the start of its error's argument, and what to tell the author.
_UNSUPPORTED = (
    ("(?=", "lookahead (?=...) is not supported"),
    ("(?!", "negative lookahead (?!...) is not supported"),
    ("(?<=", "lookbehind (?<=...) is not supported"),
    ("(?<!", "negative lookbehind (?<!...) is not supported"),
    ("(?>", "atomic groups (?>...) are not supported"),
    ("(?P=", "backreferences (?P=name) are not supported"),
    ("(?P", "(?P only starts a named group (?P<name>...); backreferences (?P=name) are not supported"),
    ("(?(", "conditionals (?(...)...) are not supported"),
    ("(?#", "comments (?#...) are not supported"),
    ("(?x", "verbose mode (?x) is not supported"),
    ("++", "possessive quantifiers (++, *+, ?+) are not supported"),
    ("*+", "possessive quantifiers (++, *+, ?+) are not supported"),
    ("?+", "possessive quantifiers (++, *+, ?+) are not supported"),
)


class PatternError(InvalidInput):
    """A pattern that is refused; the message names the field and the problem."""


def _scan(pattern: str) -> Iterator[tuple[str, bool]]:
    """The pattern's tokens: (text, in a character class) with escapes kept whole."""
    index, in_class, length = 0, False, len(pattern)
    while index < length:
        char = pattern[index]
        if char == "\\" and index + 1 < length:
            yield pattern[index:index + 2], in_class
            index += 2
            continue
        if in_class:
            if char == "]" and not (pattern[index - 1] == "[" or pattern[index - 2:index] == "[^"):
                in_class = False
        elif char == "[":
            in_class = True
        yield char, in_class
        index += 1


def python_and_re2_forms(pattern: str) -> tuple[str, str]:
    """The pattern as Python's ``re`` parses it and as RE2 does: end of text is ``\\Z`` in
    Python, ``\\z`` in RE2. PatternError for ``{,n}``, which the two read differently."""
    python, for_re2 = [], []
    tokens = list(_scan(pattern))
    for position, (token, in_class) in enumerate(tokens):
        if not in_class and token in ("\\Z", "\\z"):
            python.append("\\Z")
            for_re2.append("\\z")
            continue
        if not in_class and token == "{" and position + 1 < len(tokens) and tokens[position + 1][0] == ",":
            rest = "".join(text for text, _ in tokens[position + 2:position + 8])
            digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
            if rest[len(digits):].startswith("}"):  # {,n} and {,}
                raise PatternError(f"{{,{digits}}} means a repetition in Python but literal text in RE2: "
                                   f"write {{0,{digits}}}")
        python.append(token)
        for_re2.append(token)
    return "".join(python), "".join(for_re2)


def _options(ignore_case: bool, capture: bool) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False      # the refusal is reported to the author, not to stderr
    options.never_capture = not capture
    return options


def _explain(error: Exception) -> str:
    text = error.args[0] if error.args else str(error)
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    _, _, argument = text.partition(": ")
    for start, why in _UNSUPPORTED:
        if argument.startswith(start):
            return why
    if text.startswith("invalid escape sequence") and argument[1:2].isdigit():
        return f"backreferences ({argument}) are not supported"
    return text


class Pattern:
    """One compiled outside pattern: a bounded boolean search and, for people, the text found."""

    __slots__ = ("source", "_search", "_capturing", "_ignore_case", "window", "program_size", "group_names")

    def __init__(self, source: str, for_re2: str, ignore_case: bool, matcher: Any) -> None:
        self.source = source
        self._search = matcher
        self._capturing: Any = None  # compiled on first use by find()
        self._ignore_case = ignore_case
        self.program_size = matcher.programsize
        self.group_names = frozenset(matcher.groupindex)  # the named groups (?P<name>...)
        self.window = MATCH_BUDGET // max(1, self.program_size)

    def clip(self, data: bytes) -> bytes:
        """``data`` cut to this pattern's window, at a UTF-8 character boundary."""
        if len(data) <= self.window:
            return data
        cut = self.window
        while cut > 0 and data[cut] & 0xC0 == 0x80:  # a continuation byte: back to the character's start
            cut -= 1
        return data[:cut]

    def matches(self, data: bytes) -> bool:
        """Whether the pattern occurs in ``data`` (UTF-8, see ``encode``) within the window."""
        return self._search.search(self.clip(data)) is not None

    def find(self, text: str) -> dict[str, Any] | None:
        """The text found and the named groups, or None: for people (dry run), not the hot path."""
        if self._capturing is None:
            self._capturing = re2.compile(self._search.pattern, _options(self._ignore_case, capture=True))
        hit = self._capturing.search(self.clip(encode(text)))
        if hit is None:
            return None
        groups = {name: (value.decode("utf-8", "replace") if value is not None else None)
                  for name, value in hit.groupdict().items()}
        return {"found": hit.group(0).decode("utf-8", "replace"), "groups": groups}


class PatternSet:
    """Several patterns (all ignoring case, or none) searched in one pass with RE2::Set: which of
    them occur in ``data``. Its window is the budget over the sum of their program sizes; a longer
    text is left to the patterns one by one (``search`` answers None)."""

    __slots__ = ("patterns", "window", "_set")

    def __init__(self, patterns: list[Pattern]) -> None:
        cases = {pattern._ignore_case for pattern in patterns}
        if len(cases) != 1:
            raise ValueError("a PatternSet needs at least one pattern, all ignoring case or none")
        self.patterns = tuple(patterns)
        self.window = MATCH_BUDGET // max(1, sum(pattern.program_size for pattern in patterns))
        self._set = re2.Set.SearchSet(_options(cases.pop(), capture=False))
        try:
            for pattern in patterns:
                self._set.Add(pattern._search.pattern)
            self._set.Compile()
        except re2.error as error:  # e.g. the set's program outgrew RE2's memory
            raise PatternError(_explain(error)) from None

    def search(self, data: bytes) -> frozenset[int] | None:
        """The indexes (in ``patterns``) of those found in ``data``; None when ``data`` is longer than the window."""
        if len(data) > self.window:
            return None
        return frozenset(self._set.Match(data) or ())


def encode(text: str) -> bytes:
    """Text as the UTF-8 RE2 searches; lone surrogates (from JSON escapes) pass through as bytes
    that match no character, instead of raising."""
    return text.encode("utf-8", "surrogatepass")


def compile_pattern(pattern: str, *, field: str = "match_string", ignore_case: bool = True) -> Pattern:
    """``pattern`` compiled with RE2, or PatternError naming ``field`` and the problem."""
    if not isinstance(pattern, str):
        raise PatternError(f"{field} must be a string")
    try:
        _, for_re2 = python_and_re2_forms(pattern)
        try:
            matcher = re2.compile(for_re2, _options(ignore_case, capture=False))
        except re2.error as error:
            raise PatternError(_explain(error)) from None
        if matcher.programsize > MAX_PROGRAM_SIZE:
            raise PatternError(f"too complex to match in bounded time: RE2 program of {matcher.programsize} "
                               f"instructions, at most {MAX_PROGRAM_SIZE} (large counted repetitions such as "
                               f".{{1,200}} and Unicode classes such as \\pL multiply it)")
    except PatternError as error:
        raise PatternError(f"{field} is not a valid regular expression for RE2 (linear-time matching): {error}") from None
    return Pattern(pattern, for_re2, ignore_case, matcher)


def required_literals(pattern: str, min_alnum: int = 1) -> list[str]:
    """Literals of which at least one occurs (case-insensitively) in every text ``pattern`` matches:
    the most selective of ``literal_options`` (the one whose weakest literal has the most letters
    and digits). Empty when there is none (a rule is then checked against every event)."""
    return _best(literal_options(pattern, min_alnum), min_alnum)


def literal_options(pattern: str, min_alnum: int = 1) -> list[list[str]]:
    """Every option of literals ``pattern`` needs: each option a list of case-folded literals of
    which at least one occurs (case-insensitively) in every text the pattern matches.

    Walks the pattern as Python's parser reads it (RE2 reads every pattern it accepts the same
    way, ``python_and_re2_forms`` refuses or rewrites the differences; a pattern Python
    cannot parse, or only with a warning such as RE2's ``[[:alpha:]]``, gets none): a run
    of literal characters in the mandatory top-level sequence (capture groups included) is
    required; an alternation contributes one literal per branch. Only options of ASCII literals
    with at least ``min_alnum`` letters and digits each: re's IGNORECASE equates some non-ASCII
    letters with ASCII ones (dotless i, long s) in ways casefold() does not, and a literal that
    is looked for must never miss a match.
    """
    try:
        python_form, _ = python_and_re2_forms(pattern)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # FutureWarning: a nested set, read differently by RE2
            parsed = sre_parse.parse(python_form, re.IGNORECASE)
    except (re.error, PatternError, Warning):
        return []
    return [[literal.casefold() for literal in option] for option in _sequence(list(parsed), min_alnum)
            if _usable(option, min_alnum)]


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
    """The most selective usable option: the one whose weakest literal has the most letters and digits."""
    usable = [option for option in options if _usable(option, min_alnum)]
    if not usable:
        return []
    return max(usable, key=lambda option: (min(sum(ch.isalnum() for ch in literal) for literal in option), -len(option)))


def _usable(option: list[str], min_alnum: int) -> bool:
    return bool(option) and all(literal and literal.isascii() and sum(ch.isalnum() for ch in literal) >= min_alnum
                                for literal in option)
