import json
import logging

import pytest
from sqlalchemy import select

from mutt_app import dynconfig
from mutt_app.storage.db import session_scope
from mutt_app.storage.models import ConfigAudit


@pytest.mark.parametrize(
    "key, raw, expected",
    [("moog_rate_limit", "120", 120), ("moog_rate_period", "0.5", 0.5), ("alerter_shed_mode", "dlq", "dlq"),
     ("log_level", "DEBUG", "DEBUG"), ("unhandled_threshold", 7, 7)],
)
def test_values_are_parsed_to_their_type(key, raw, expected):
    assert dynconfig.setting(key).parse(raw) == expected


@pytest.mark.parametrize(
    "key, raw, message",
    [("moog_rate_limit", "fast", "must be a whole number"), ("moog_rate_limit", 0, "at least 1"),
     ("alerter_shed_mode", "drop", "one of defer, dlq"), ("unhandled_threshold", 2.5, "must be a whole number"),
     ("moog_rate_limit", True, "must be a whole number")],
)
def test_bad_values_are_refused_with_a_reason(key, raw, message):
    with pytest.raises(dynconfig.SettingError, match=message):
        dynconfig.setting(key).parse(raw)


def test_unknown_keys_are_refused():
    with pytest.raises(dynconfig.SettingError, match="unknown setting"):
        dynconfig.setting("moog_rate")


def test_every_setting_default_passes_its_own_validation():
    for definition in dynconfig.REGISTRY.values():
        assert definition.parse(definition.default) == definition.default


def test_a_change_reaches_another_process_view_and_unset_restores_the_default(redis, sqlite_url):
    other_process = dynconfig.RuntimeConfig(redis)
    assert other_process.get("moog_rate_limit") == 50
    with session_scope() as session:
        old, new = dynconfig.change(session, "moog_rate_limit", "75", actor="test", reason="burst")
    assert (old, new) == (50, 75)
    other_process._checked_at = 0  # as if REFRESH_SECONDS had passed
    assert other_process.get("moog_rate_limit") == 75
    with session_scope() as session:
        dynconfig.change(session, "moog_rate_limit", None, actor="test")
    other_process._checked_at = 0
    assert other_process.get("moog_rate_limit") == 50
    with session_scope() as session:
        rows = session.scalars(select(ConfigAudit).order_by(ConfigAudit.id)).all()
    assert [(r.operation, r.old_values, r.new_values, r.reason) for r in rows] == [
        ("UPDATE", {"value": 50}, {"value": 75}, "burst"),
        ("DELETE", {"value": 75}, {"value": 50}, ""),
    ]


def test_a_refused_value_changes_nothing(redis, sqlite_url):
    with session_scope() as session, pytest.raises(dynconfig.SettingError):
        dynconfig.change(session, "moog_rate_limit", "-3", actor="test")
    assert dynconfig.get("moog_rate_limit") == 50


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-Infinity", "1e400", float("nan"), float("inf"), float("-inf")])
def test_a_real_setting_takes_only_finite_numbers(raw):
    # NaN compares false with everything: moog_rate_period=nan silently stopped all forwarding
    with pytest.raises(dynconfig.SettingError, match="must be a finite number"):
        dynconfig.setting("moog_rate_period").parse(raw)


@pytest.mark.parametrize("raw", ["²", "٣", "1_000", "1e3", "9" * 30, float("inf"), 2**70, ""])
def test_a_whole_number_setting_takes_only_ascii_digits_in_range(raw):
    with pytest.raises(dynconfig.SettingError):
        dynconfig.setting("moog_rate_limit").parse(raw)


def test_a_string_setting_refuses_nul_characters():
    with pytest.raises(dynconfig.SettingError):
        dynconfig.setting("unhandled_default_team").parse("NE\x00TO")


def test_a_non_finite_value_left_in_redis_falls_back_to_the_default(redis):
    from mutt_app.storage import redis_keys
    redis.hset(redis_keys.CONFIG, "moog_rate_period", "NaN")  # what an older release let `config set` write
    redis.incr(redis_keys.CONFIG_VERSION)
    assert dynconfig.RuntimeConfig(redis).get("moog_rate_period") == 1.0


def test_a_stored_value_the_registry_refuses_is_logged_and_the_default_applies(redis, caplog):
    from mutt_app.storage import redis_keys

    redis.hset(redis_keys.CONFIG, "moog_rate_limit", json.dumps("fast"))
    redis.incr(redis_keys.CONFIG_VERSION)
    with caplog.at_level(logging.WARNING, logger="mutt_app.dynconfig"):
        assert dynconfig.RuntimeConfig(redis).get("moog_rate_limit") == dynconfig.REGISTRY["moog_rate_limit"].default
    assert "runtime setting moog_rate_limit: the stored value is refused (" in caplog.text
    assert "the default applies" in caplog.text
