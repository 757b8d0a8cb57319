"""FLOWER_BASIC_AUTH as `mutt flower` accepts it, and Flower's open views put behind its auth."""

import pytest

from mutt_app.cli import flower


@pytest.mark.parametrize("value", ["ops:long-secret", "ops:a:b", "ops:pw1,admin:pw2"])
def test_pairs_with_a_user_and_a_password_are_accepted(value):
    assert flower.credentials_problem(value) is None


@pytest.mark.parametrize("value,entry", [(None, None), ("", None), ("  ", None), (":", 1), ("ops:", 1),
                                          (":secret", 1), ("no-colon", 1), ("ops:pw,", 2), ("ops:pw, :x", 2)])
def test_an_empty_user_or_password_is_refused(value, entry):
    problem = flower.credentials_problem(value)
    assert problem and "FLOWER_BASIC_AUTH" in problem
    if entry:
        assert f"entry {entry} " in problem


def test_metrics_and_healthcheck_need_authentication_once_protected():
    from flower.views import monitor

    flower.protect_monitoring_views()
    flower.protect_monitoring_views()  # twice is once
    for handler in (monitor.Metrics, monitor.Healthcheck):
        assert handler.get.mutt_protected and handler.get.__wrapped__.__name__ == "get"
        assert not getattr(handler.get.__wrapped__, "mutt_protected", False)
