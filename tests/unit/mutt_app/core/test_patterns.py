"""Outside regular expressions on RE2: linear time, bounded per search, refusals that say why."""

from __future__ import annotations

import pytest

from mutt_app.core import patterns
from mutt_app.core.patterns import MATCH_BUDGET, MAX_PROGRAM_SIZE, PatternError, compile_pattern


def test_the_catastrophic_pattern_completes_on_the_text_that_hangs_python_re():
    # Python's re needs about 2**34 steps for this (hours); RE2 cannot backtrack.
    pattern = compile_pattern("(a+)+$")
    assert pattern.matches(patterns.encode("a" * 34 + "!")) is False
    assert pattern.matches(patterns.encode("a" * 1_000_000 + "!")) is False
    assert pattern.matches(patterns.encode("a" * 34)) is True


@pytest.mark.parametrize("source", ["(a+)+$", "(.*a){20}", r"(?:\w{1,40}\s?){1,4}z", "[ab]{0,240}[ab]{0,240}c",
                                    r"^\S+ \d+ \d+:\d+:\d+ .{0,200}error", r"\pL+"])
def test_every_search_is_bounded_by_program_size_times_window(source):
    """The bound is structural: RE2's work is at most (instructions x bytes searched), and both
    are capped, whatever the text."""
    pattern = compile_pattern(source)
    assert pattern.program_size <= MAX_PROGRAM_SIZE
    text = patterns.encode("ab€" * 1_000_000)
    assert len(pattern.clip(text)) * pattern.program_size <= MATCH_BUDGET
    pattern.matches(text)  # completes


@pytest.mark.parametrize("source, words", [
    ("port (?=down)", "lookahead (?=...) is not supported"),
    ("(?!up)down", "negative lookahead"),
    ("(?<=port )down", "lookbehind (?<=...) is not supported"),
    ("(?<!no )down", "negative lookbehind"),
    (r"(\w+) \1", r"backreferences (\1) are not supported"),
    ("(?P<w>x)(?P=w)", "backreferences (?P=name)"),
    ("(?>a+)b", "atomic groups"),
    ("a++b", "possessive quantifiers"),
    ("(?x) a b", "verbose mode"),
    ("a{,3}b", "write {0,3}"),
    ("a{,}b", "write {0,}"),
    ("(unclosed", "missing )"),
    ("(?:.{1,99}.{1,99}.{1,99}){1,3}!", "too complex to match in bounded time"),
    ("a{1001}", "invalid repetition size"),
])
def test_unsupported_patterns_are_refused_naming_the_field_and_the_problem(source, words):
    with pytest.raises(PatternError) as refused:
        compile_pattern(source)
    message = str(refused.value)
    assert message.startswith("match_string is not a valid regular expression for RE2") and words in message
    assert "\n" not in message


def test_python_end_of_text_is_rewritten_and_named_groups_work():
    end = compile_pattern(r"down\Z")  # Python's \Z is RE2's \z; both spellings accepted
    assert end.matches(b"port down") and not end.matches(b"port down\n")
    assert compile_pattern(r"down\z").matches(b"port down")
    found = compile_pattern(r"(?P<key>[a-z]+)=(?P<value>\S+)").find("STATE=down now")
    assert found == {"found": "STATE=down", "groups": {"key": "STATE", "value": "down"}}


def test_case_insensitive_unicode_and_bad_surrogates():
    assert compile_pattern("straße").matches(patterns.encode("STRAẞE"))
    assert compile_pattern("kernel").matches(patterns.encode("\u212aERNEL"))  # Kelvin sign folds to k
    assert compile_pattern(r"a.b").matches(patterns.encode("a\ud800b")) in (True, False)  # a lone surrogate: no crash
    assert compile_pattern(r"port \d").find("x\ud800 port 1")["found"] == "port 1"


def test_the_window_cuts_at_a_character_boundary():
    pattern = compile_pattern("(.*a){20}")
    text = patterns.encode("é" * pattern.window)
    clipped = pattern.clip(text)
    assert len(clipped) <= pattern.window and clipped.decode("utf-8") == "é" * (len(clipped) // 2)


ADVERSARIAL = ["a:" * 500_000, "::a" * 330_000, "aa:aa-" * 170_000, "1.1." * 250_000, "1111." * 200_000,
               "0x" * 500_000, "ab" * 500_000 + "1", "abcd." * 200_000, "a" * 1_000_000 + "!", " " * 1_000_000 + "1"]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=lambda text: repr(text[:6]))
def test_mutts_own_fixed_patterns_stay_linear_on_a_megabyte_of_adversarial_text(text):
    """The fixed patterns stay on Python's re (ADR 0012): the roll-up's masks see every unhandled
    message, event parsing every trap. A quadratic one would need ~10**12 steps here, not seconds."""
    import time

    from mutt_app.alerting import rollup
    from mutt_app.ingest import events
    started = time.process_time()
    rollup.masked(text)
    for pattern in (events._OID, events._PS_VARBIND, events._UNSTORABLE_ESCAPE):
        pattern.search(text)
    events._PORT.sub("", text)
    assert time.process_time() - started < 5


def test_a_pattern_set_finds_which_patterns_occur_in_one_pass_within_its_window():
    found = [patterns.compile_pattern(source) for source in (r"BGP .* down", r"gi\d+/\d+", r"^fan")]
    pattern_set = patterns.PatternSet(found)
    assert pattern_set.search(b"BGP peer 10.0.0.1 DOWN on Gi0/1") == {0, 1}
    assert pattern_set.search(b"all good") == frozenset()
    assert pattern_set.window == patterns.MATCH_BUDGET // sum(pattern.program_size for pattern in found)
    assert pattern_set.search(b"x" * (pattern_set.window + 1)) is None   # the caller searches one by one
    with pytest.raises(ValueError):
        patterns.PatternSet([found[0], patterns.compile_pattern("x", ignore_case=False)])


@pytest.mark.parametrize(
    "pattern, literals",
    [
        (r"%LINK-\d-UPDOWN", ["-updown"]),
        (r"(?:ABCD|EFGHI)_FAIL\d", ["_fail"]),
        (r"(?:ABCDE|EFGHI)_F\d", ["abcde", "efghi"]),
        (r"(foo|bar)+baz", ["baz"]),
        (r"\b[0-9a-f]{4}\.[0-9a-f]{4}", []),
        (r"x?y*", []),
    ],
)
def test_required_literals(pattern, literals):
    assert patterns.required_literals(pattern) == literals
