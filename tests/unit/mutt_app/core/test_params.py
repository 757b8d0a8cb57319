"""Time ranges from outside: "the last 15m, 1h, 24h or 7d" of every list, or a refusal naming them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mutt_app.core import params


@pytest.mark.parametrize(("raw", "back"), [("15m", timedelta(minutes=15)), ("1H", timedelta(hours=1)), (" 24h ", timedelta(hours=24)),
                                           ("7d", timedelta(days=7))])
def test_a_time_range_starts_that_long_before_now(raw, back):
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert params.time_range_start(raw, now=now) == now - back


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_no_time_range_is_any_time(raw):
    assert params.time_range_start(raw) is None


@pytest.mark.parametrize("raw", ["2h", "1w", "15", 3600, "7d\x00"])
def test_an_unknown_time_range_names_the_ones_there_are(raw):
    with pytest.raises(params.ParamError, match="since must be one of 15m, 1h, 24h, 7d, got"):
        params.time_range_start(raw)
