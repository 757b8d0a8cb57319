"""Rule, host and team fields: refused with the reason, or cleaned and typed."""

from __future__ import annotations

import pytest

from mutt_app.rules import validation
from tests.support.rules import GOOD_RULE


@pytest.mark.parametrize(
    "fields, message",
    [
        ({**GOOD_RULE, "match_type": "regex", "match_string": "(oops"}, "not a valid regular expression"),
        ({k: v for k, v in GOOD_RULE.items() if k != "match_string"}, "needs a match_string or a trap_oid"),
        ({**GOOD_RULE, "match_string": ""}, "needs a match_string or a trap_oid"),
        ({**GOOD_RULE, "syslog_severity": 8}, "syslog_severity must be 0-7"),
        ({**GOOD_RULE, "syslog_severity": "loud"}, "syslog_severity must be 0-7"),
        ({**GOOD_RULE, "match_type": "glob"}, "match_type must be one of"),
        ({**GOOD_RULE, "moog_severity": 6}, "moog_severity must be 0-5"),
        ({**GOOD_RULE, "moog_severity": "Catastrophic"}, "moog_severity must be 0-5 or one of"),
        ({**GOOD_RULE, "prod_handling": ""}, "missing required field(s): prod_handling"),
        ({**GOOD_RULE, "team_assignment": None}, "missing required field(s): team_assignment"),
        ({**GOOD_RULE, "priority": "high"}, "priority must be an integer"),
        ({**GOOD_RULE, "priority": True}, "priority must be an integer"),
        ({**GOOD_RULE, "is_active": "yes"}, "is_active must be true or false"),
        ({**GOOD_RULE, "colour": "red"}, "unknown field(s): colour"),
        ({**GOOD_RULE, "match_type": "oid_prefix", "trap_oid": "1.3"}, "trap_oid only"),
        ({**GOOD_RULE, "match_type": "oid_prefix", "match_string": None}, "needs a match_string or a trap_oid"),
        ({**GOOD_RULE, "match_string": "x" * 256}, "longer than 255"),
        ([1, 2], "JSON object"),
        # clear patterns (docs/rules.md "Clears and keys")
        ({**GOOD_RULE, "match_type": "regex", "clear_match_string": "(up"},
         "clear_match_string is not a valid regular expression"),
        ({**GOOD_RULE, "match_type": "regex", "clear_match_string": "x{1000}{1000}"}, "clear_match_string is not a valid"),
        ({**GOOD_RULE, "clear_trap_oid": ".1.3.6.1.6.3.1.1.5.4"}, "clear_trap_oid: only an oid_prefix rule"),
        ({**GOOD_RULE, "match_type": "oid_prefix", "match_string": None, "trap_oid": ".1.3", "clear_match_string": "up"},
         "clear_match_string: an oid_prefix rule clears on clear_trap_oid"),
        ({**GOOD_RULE, "match_type": "oid_prefix", "match_string": None, "trap_oid": ".1.3", "clear_trap_oid": "up"},
         "clear_trap_oid must be a dotted OID"),
        ({**GOOD_RULE, "match_type": "regex", "match_string": r"(?P<key>\S+) down", "clear_match_string": "up"},
         "clear_match_string: match_string has the named group (?P<key>...) and clear_match_string does not"),
        ({**GOOD_RULE, "clear_match_string": "x" * 256}, "clear_match_string is longer than 255"),
        ({**GOOD_RULE, "clear_match_string": 5}, "clear_match_string must be a string"),
    ],
)
def test_invalid_rules_are_refused_with_the_reason(fields, message):
    with pytest.raises(validation.RuleError) as refused:
        validation.validate_rule_fields(fields)
    assert message in str(refused.value)


def test_names_and_numbers_are_normalised():
    clean = validation.validate_rule_fields({**GOOD_RULE, "syslog_severity": "Error", "moog_severity": "Major", "id": 9})
    assert (clean["syslog_severity"], clean["moog_severity"], clean["priority"], clean["match_type"]) == (3, 4, 100, "contains")
    assert clean["name"] == "contains LINK-DOWN" and "id" not in clean
    assert validation.moog_severity("info") == 1 and validation.moog_severity("0") == 0


def test_clear_patterns_are_kept_as_written_and_blank_means_none():
    regex = validation.validate_rule_fields({**GOOD_RULE, "match_type": "regex", "match_string": r"fan (?P<key>\d) failed ",
                                             "clear_match_string": r"fan (?P<key>\d) ok "})
    assert regex["clear_match_string"] == r"fan (?P<key>\d) ok "  # a trailing blank may be part of a pattern
    oid = validation.validate_rule_fields({**GOOD_RULE, "match_type": "oid_prefix", "match_string": None,
                                           "trap_oid": ".1.3.6.1.6.3.1.1.5.3", "clear_trap_oid": " .1.3.6.1.6.3.1.1.5.4 ",
                                           "clear_match_string": ""})
    assert (oid["clear_trap_oid"], oid["clear_match_string"]) == (".1.3.6.1.6.3.1.1.5.4", None)
