"""Daily windows of time-of-day prices: parsing, midnight wrap-around, whole minutes."""

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from billing.pricing.catalogue.daily_windows import (
    InvalidWindow,
    format_window,
    parse_window,
    window_contains,
)


def at(hour, minute=0):
    return datetime(2026, 11, 27, hour, minute, tzinfo=UTC)


def test_start_included_end_excluded():
    assert not window_contains("00:30-16:30", at(0, 29))
    assert window_contains("00:30-16:30", at(0, 30))
    assert window_contains("00:30-16:30", at(16, 29))
    assert not window_contains("00:30-16:30", at(16, 30))


def test_a_window_over_midnight_and_a_moment_in_another_zone():
    assert window_contains("22:00-06:00", at(23, 0)) and window_contains("22:00-06:00", at(5))
    assert not window_contains("22:00-06:00", at(12))
    paris = timezone(timedelta(hours=1))
    assert window_contains("00:30-16:30", datetime(2026, 11, 27, 1, 45, tzinfo=paris))
    assert not window_contains("00:30-16:30", datetime(2026, 11, 27, 1, 15, tzinfo=paris))


@pytest.mark.parametrize("bad", ["", "0:30-16:30", "24:00-01:00", "10:00-10:00", "10:00"])
def test_malformed_windows_are_refused(bad):
    with pytest.raises(InvalidWindow):
        parse_window(bad)


def test_genai_prices_bounds_become_a_window_only_in_whole_minutes():
    assert format_window(time(0, 30, tzinfo=UTC), time(16, 30, tzinfo=UTC)) == "00:30-16:30"
    tokyo = timezone(timedelta(hours=9))
    assert format_window(time(9, 30, tzinfo=tokyo), time(10, 0)) == "00:30-10:00"
    assert format_window(time(0, 0), time(23, 59, 59)) is None
