import pytest

from mutt_app import config, dynconfig, errors
from mutt_app.access import api_keys, users
from mutt_app.audit import queries
from mutt_app.core import params, patterns
from mutt_app.dead_letters import dlq
from mutt_app.ingest import events
from mutt_app.operations import supervisor
from mutt_app.rules import as_code, matcher, validation
from mutt_app.tools import checks

KINDS = {
    errors.InvalidInput: [dlq.DeadLetterError, queries.QueryError, matcher.RuleCompileError, events.BodyError,
                          events.UnsupportedMediaType, events.TooLarge, events.EventError, events.EventTooLarge,
                          params.ParamError, patterns.PatternError],
    errors.InvalidChange: [users.UserError, api_keys.ApiKeyError, as_code.DocumentError, validation.RuleError,
                           dynconfig.SettingError],
    errors.Conflict: [validation.AlreadyExists, users.LastAdmin, users.UserExists],
    errors.NotFound: [users.NoSuchUser, api_keys.NoSuchKey],
    errors.ConfigurationError: [config.ConfigurationError],
    errors.MuttError: [supervisor.CrashLoop, checks.CheckFailed, checks.Skipped],
}


@pytest.mark.parametrize(("kind", "domain_error"), [(kind, error) for kind, found in KINDS.items() for error in found],
                         ids=lambda value: value.__name__)
def test_each_domain_error_is_a_mutt_error_of_its_kind(kind, domain_error):
    assert issubclass(domain_error, kind) and issubclass(domain_error, errors.MuttError)


@pytest.mark.parametrize("domain_error", KINDS[errors.InvalidInput] + KINDS[errors.InvalidChange], ids=lambda value: value.__name__)
def test_invalid_input_is_still_a_value_error_for_callers_that_catch_that(domain_error):
    with pytest.raises(ValueError, match="a bad value"):
        raise domain_error("a bad value")


def test_a_conflict_or_a_missing_thing_is_still_caught_as_the_refusal_it_was():
    assert issubclass(validation.AlreadyExists, validation.RuleError) and issubclass(users.LastAdmin, users.UserError)
    assert issubclass(users.NoSuchUser, users.UserError) and issubclass(api_keys.NoSuchKey, api_keys.ApiKeyError)
    assert issubclass(errors.NotFound, LookupError)


def test_a_conflict_is_found_before_the_invalid_input_it_also_is():
    """Flask and ``except`` clauses in MRO order pick the most specific kind: a 409, not a 400."""
    for error in KINDS[errors.Conflict]:
        assert error.__mro__.index(errors.Conflict) < error.__mro__.index(errors.InvalidInput)
    for error in KINDS[errors.NotFound]:
        assert error.__mro__.index(errors.NotFound) < error.__mro__.index(errors.InvalidInput)
    assert issubclass(errors.InvalidChange, errors.InvalidInput)


def test_the_configuration_error_has_one_class_under_both_names():
    assert config.ConfigurationError is errors.ConfigurationError
    assert issubclass(errors.ConfigurationError, RuntimeError)


def test_a_dependency_down_names_the_dependency():
    error = errors.DependencyDown("Redis", "no answer within 2 s")
    assert str(error) == "Redis is unavailable: no answer within 2 s" and error.dependency == "Redis"
    assert str(errors.DependencyDown("the database")) == "the database is unavailable"


def test_brief_is_one_line_without_passwords_sql_or_traceback():
    import redis
    import sqlalchemy

    url = "postgresql+psycopg://mutt:s3cret@127.0.0.1:1/mutt?connect_timeout=1"
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
        sqlalchemy.create_engine(url).connect()
    text = errors.brief(caught.value)
    assert text.startswith("OperationalError: connection failed: ") and "\n" not in text
    assert "sqlalche.me" not in text and "s3cret" not in text

    with pytest.raises(redis.ConnectionError) as caught:
        redis.Redis.from_url("redis://:s3cret@127.0.0.1:1/0").ping()
    assert errors.brief(caught.value) == "ConnectionError: Error 111 connecting to 127.0.0.1:1. Connection refused."

    assert errors.brief(RuntimeError("cannot use redis://admin:s3cret@cache:6379/0\nmore")) == \
        "RuntimeError: cannot use redis://admin:***@cache:6379/0"
    assert errors.brief(RuntimeError("host=db password=s3cret user=mutt")) == "RuntimeError: host=db password=*** user=mutt"
    assert errors.brief(TimeoutError()) == "TimeoutError"
    assert len(errors.brief(ValueError("x" * 1000))) == errors.BRIEF_LIMIT
