"""Silences, pure: matchers, one-off and recurring windows (DST), the refusals, the compiled set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mutt_app.core import patterns
from mutt_app.suppression.silences import (
    ACTIVE,
    EXPIRED,
    PENDING,
    Matcher,
    Silence,
    SilenceError,
    SilenceSet,
    validate,
)

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
HOST = {"field": "hostname", "op": "=", "value": "core-rtr-01"}
EVENT = {"hostname": "Core-Rtr-01", "message": "LINK-3-UPDOWN: Gi0/1 down", "trap_oid": "1.3.6.1.4.1.9.9.41",
         "_key": "syslog-dc1"}


def one_off(*matchers, minutes=120, silence_id=1, starts=NOW, **more):
    fields = {"matchers": list(matchers), "comment": "line card swap", "starts_at": starts.isoformat(),
              "ends_at": (starts + timedelta(minutes=minutes)).isoformat(), **more}
    return Silence.of(validate(fields, now=NOW) | {"id": silence_id})


def weekly_sunday_two_am_london(silence_id=1):
    fields = {"matchers": [HOST], "comment": "weekly patching",
              "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0", "duration_seconds": 7200,
                           "time_zone": "Europe/London"}}
    return Silence.of(validate(fields, now=NOW) | {"id": silence_id})


@pytest.mark.parametrize("matcher, holds", [
    (HOST, True),
    ({"field": "hostname", "op": "!=", "value": "core-rtr-01"}, False),
    ({"field": "hostname", "op": "prefix", "value": "core-"}, True),
    ({"field": "message", "op": "contains", "value": "updown"}, True),
    ({"field": "message", "op": "=~", "value": r"Gi\d+/\d+ (down|up)"}, True),
    ({"field": "message", "op": "=~", "value": r"^BGP"}, False),
    ({"field": "trap_oid", "op": "prefix", "value": "1.3.6.1.4.1.9"}, True),
    ({"field": "source", "op": "=", "value": "syslog-dc1"}, True),
    ({"field": "environment", "op": "=", "value": "prod"}, True),
    ({"field": "team", "op": "=", "value": "NetOps"}, True),
    ({"field": "rule_id", "op": "=", "value": "7"}, True),
    ({"field": "rule_id", "op": "=", "value": "8"}, False),
])
def test_each_field_and_op(matcher, holds):
    silences = SilenceSet([one_off(matcher)])
    found = silences.silencing(EVENT, now=NOW, rule_id=7, environment="prod", team="NetOps")
    assert (found == 1) is holds


def test_all_matchers_must_hold():
    silence = one_off(HOST, {"field": "message", "op": "contains", "value": "BGP"})
    assert SilenceSet([silence]).silencing(EVENT, now=NOW) is None


def test_a_clear_is_never_silenced():
    assert SilenceSet([one_off(HOST)]).silencing(EVENT, now=NOW, clears=True) is None


def test_one_off_window_states():
    silence = one_off(HOST, starts=NOW + timedelta(hours=1))
    assert silence.state(NOW) == PENDING
    assert silence.state(NOW + timedelta(hours=1)) == ACTIVE
    assert silence.state(NOW + timedelta(hours=3)) == EXPIRED
    silences = SilenceSet([silence])
    assert silences.silencing(EVENT, now=NOW) is None
    assert silences.silencing(EVENT, now=NOW + timedelta(minutes=90)) == 1
    assert silences.silencing(EVENT, now=NOW + timedelta(hours=3, seconds=1)) is None


def test_expired_by_hand_stops_at_once():
    silence = Silence.of(validate({"matchers": [HOST], "comment": "x", "ends_at": "2026-03-21T00:00:00Z"}, now=NOW)
                         | {"id": 4, "expired_at": NOW + timedelta(minutes=5)})
    assert silence.state(NOW) == ACTIVE
    assert silence.state(NOW + timedelta(minutes=5)) == EXPIRED


def test_lowest_id_wins_and_index_finds_host_rule_and_environment():
    by_rule = one_off({"field": "rule_id", "op": "=", "value": "7"}, silence_id=2)
    by_host = one_off(HOST, silence_id=3)
    general = one_off({"field": "environment", "op": "=", "value": "prod"}, silence_id=9)
    silences = SilenceSet([general, by_host, by_rule])
    assert silences.silencing(EVENT, now=NOW, rule_id=7, environment="prod") == 2
    assert silences.silencing(EVENT, now=NOW, rule_id=8, environment="prod") == 3
    assert silences.silencing({**EVENT, "hostname": "other"}, now=NOW, environment="prod") == 9
    assert not silences.is_silenced({**EVENT, "hostname": "other"}, now=NOW, environment="dev")


def test_the_lowest_id_wins_across_the_indexes_and_the_silences_indexed_by_nothing():
    silences = SilenceSet([
        one_off({"field": "message", "op": "contains", "value": "updown"}, silence_id=5),           # indexed by nothing
        one_off({"field": "team", "op": "=", "value": "netops"}, silence_id=6),
        one_off({"field": "environment", "op": "=", "value": "dev"}, HOST, silence_id=7),          # by host, then environment
        one_off({"field": "source", "op": "=", "value": "SYSLOG-DC1"}, silence_id=8),
    ])
    assert silences.silencing(EVENT, now=NOW, environment="prod", team="NetOps") == 5
    other = {**EVENT, "message": "BGP peer down"}
    assert silences.silencing(other, now=NOW, environment="dev", team="NetOps") == 6
    assert silences.silencing(other, now=NOW, environment="dev", team="storage") == 7
    assert silences.silencing(other, now=NOW, environment="prod", team="storage") == 8
    assert silences.silencing({**other, "_key": "snmp"}, now=NOW, environment="prod", team="storage") is None


def regex_on_message(value, silence_id, *more):
    return one_off({"field": "message", "op": "=~", "value": value}, *more, silence_id=silence_id)


def test_the_regexes_many_events_meet_are_searched_together_and_each_still_decides_for_its_own_silence():
    silences = SilenceSet([
        regex_on_message(r"BGP .* down", 3),
        regex_on_message(r"Gi\d+/\d+ (down|up)", 4, {"field": "environment", "op": "=", "value": "prod"}),
        regex_on_message(r"LINK-\d-UPDOWN", 5),
        regex_on_message(r"fan (failed|missing)", 6, {"field": "environment", "op": "=", "value": "prod"}),
    ])
    assert silences.silencing(EVENT, now=NOW, environment="dev") == 5              # 4 holds only in prod
    assert silences.silencing(EVENT, now=NOW, environment="prod") == 4
    assert silences.silencing({**EVENT, "message": "fan FAILED in tray 2"}, now=NOW, environment="prod") == 6
    assert silences.silencing({**EVENT, "message": "fan failed"}, now=NOW, environment="dev") is None
    assert silences.silencing({**EVENT, "message": "all good"}, now=NOW, environment="prod") is None


def test_a_message_longer_than_the_sets_window_is_searched_by_each_regex_alone():
    silences = SilenceSet([regex_on_message(r"BGP .* down", 3), regex_on_message(r"needle-\d+", 4)])
    long_message = "x" * 2_000_000 + " needle-42"
    assert silences.silencing({**EVENT, "message": long_message}, now=NOW) is None   # past each regex's own window
    # longer than the two searched together may read (235 KB), within what needle-\d+ alone may (615 KB)
    assert silences.silencing({**EVENT, "message": "a needle-42 " + "x" * 300_000}, now=NOW) == 4


@pytest.mark.parametrize("at, state", [
    ("2026-03-22T01:59:00+00:00", PENDING),   # GMT: 02:00 London is 02:00 UTC
    ("2026-03-22T02:00:00+00:00", ACTIVE),
    ("2026-03-22T03:59:00+00:00", ACTIVE),
    ("2026-03-22T04:00:00+00:00", PENDING),
    ("2026-03-29T01:00:00+00:00", ACTIVE),    # BST from that morning: 02:00 London is 01:00 UTC
    ("2026-03-29T02:59:00+00:00", ACTIVE),
    ("2026-03-29T03:00:00+00:00", PENDING),
    ("2026-10-25T01:30:00+00:00", PENDING),   # back to GMT at 02:00 BST: the window opens at 02:00 GMT
    ("2026-10-25T02:00:00+00:00", ACTIVE),
    ("2026-03-25T02:30:00+00:00", PENDING),   # a Wednesday
])
def test_recurring_window_follows_london_time_across_dst(at, state):
    assert weekly_sunday_two_am_london().state(datetime.fromisoformat(at)) == state


def test_recurring_set_rebuilds_its_index_when_a_window_opens_and_closes():
    silences = SilenceSet([weekly_sunday_two_am_london(silence_id=5)])
    sunday = datetime(2026, 3, 22, tzinfo=UTC)
    assert silences.silencing(EVENT, now=sunday + timedelta(hours=1)) is None
    assert silences.silencing(EVENT, now=sunday + timedelta(hours=2, minutes=1)) == 5
    assert silences.silencing(EVENT, now=sunday + timedelta(hours=4)) is None
    assert silences.silencing(EVENT, now=sunday + timedelta(days=7, hours=1, minutes=30)) == 5  # BST now


def base(**more):
    return {"matchers": [HOST], "comment": "maintenance", "ends_at": "2026-03-20T14:00:00Z", **more}


@pytest.mark.parametrize("fields, words", [
    (base(matchers=[]), "matchers is required"),
    (base(matchers=None), "matchers is required"),
    (base(matchers=[{"field": "severity", "op": "=", "value": "3"}]), "matchers[0].field: unknown field 'severity'"),
    (base(matchers=[{"field": "hostname", "op": "~", "value": "x"}]), "matchers[0].op: unknown op '~'"),
    (base(matchers=[{"field": "message", "op": "=~", "value": "(a"}]), "matchers[0].value is not a valid regular"),
    (base(matchers=[{"field": "message", "op": "=~", "value": "(?=a)b"}]), "matchers[0].value"),
    (base(matchers=[{"field": "message", "op": "=~", "value": "[a-z]{1,900}{1,900}"}]), "matchers[0].value"),
    (base(ends_at="2026-03-20T11:00:00Z"), "ends_at must be after starts_at"),
    (base(ends_at="2027-03-22T12:00:00Z"), "longer than a year"),
    (base(ends_at="next tuesday"), "ends_at is not an ISO 8601"),
    (base(ends_at=None), "ends_at is required"),
    (base(comment=""), "comment is required"),
    (base(colour="red"), "unknown field(s): colour"),
    (base(ends_at=None, schedule={"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "duration_seconds": 3600}),
     "schedule.rrule never occurs"),
    (base(ends_at=None, schedule={"rrule": "FREQ=DAILY;UNTIL=20250101T000000", "duration_seconds": 3600}),
     "schedule.rrule never occurs"),
    (base(ends_at=None, schedule={"rrule": "FREQ=MINUTELY", "duration_seconds": 3600}), "FREQ must be one of"),
    (base(ends_at=None, schedule={"rrule": "BYDAY=XX", "duration_seconds": 3600}), "schedule.rrule is not a valid RRULE"),
    (base(ends_at=None, schedule={"rrule": "FREQ=DAILY", "duration_seconds": 400 * 86400}), "longer than a year"),
    (base(ends_at=None, schedule={"rrule": "FREQ=DAILY", "duration_seconds": 10}), "at least 60"),
    (base(ends_at=None, schedule={"rrule": "FREQ=DAILY", "duration_seconds": 600, "time_zone": "Mars/Olympus"}),
     "schedule.time_zone: unknown time zone"),
])
def test_refusals_name_the_field(fields, words):
    with pytest.raises(SilenceError) as refused:
        validate(fields, now=NOW)
    assert words in str(refused.value)


def test_an_impossible_daily_rule_is_refused_quickly():
    started = datetime.now(UTC)
    with pytest.raises(SilenceError, match="never occurs"):
        validate(base(ends_at=None, schedule={"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "duration_seconds": 600}),
                 now=NOW)
    assert datetime.now(UTC) - started < timedelta(seconds=3)


REGEXES = {  # a regex, and texts it matches
    r"core-\d+\.example\.net": "core-12.example.net", r"(?:EDGE|dist)-[0-9]+": "dist-7 edge-3",
    r"Gi\d+/\d+ (down|up)": "Gi0/1 up", r"^BGP": "BGP peer", r"x?y*": "", r"ſtate": "state STATE",
}


@pytest.mark.parametrize("pattern", REGEXES)
@settings(max_examples=200, deadline=None)
@given(before=st.text(max_size=8), after=st.text(max_size=8), cases=st.lists(st.booleans(), min_size=24, max_size=24))
def test_a_regex_matcher_decides_as_its_regex_alone_whatever_its_cheap_test_skips(pattern, before, after, cases):
    """The literal a regex needs is looked for first (RE2 is called only where it occurs): the
    answer is RE2's, for texts it matches in any case of letters and for others."""
    matcher = Matcher("hostname", "=~", pattern)
    regex = patterns.compile_pattern(pattern)
    example = "".join(char.upper() if upper else char for char, upper in zip(REGEXES[pattern], cases, strict=False))
    for text in (before + example + after, before + after):
        assert matcher.holds(text) is regex.matches(patterns.encode(text))
