"""billing.usage.rollup.selectors: burn rate, runway and month spend from the rollup."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.usage.rollup import selectors
from tests.billing.usage_fixtures import rollup_row as row

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 27)


def test_runway_uses_the_last_seven_days_today_included(org, other_org):
    row(org, date(2026, 11, 21), 70)  # the 7th day back: counted
    row(org, date(2026, 11, 20), 1000)  # 8th day back: not counted
    row(other_org, TODAY, 1000)  # another org: not counted
    assert selectors.burn_per_day(org, today=TODAY) == Decimal(10)
    assert selectors.runway_days(org, balance=Decimal("25.99"), today=TODAY) == Decimal("2.5")
    assert selectors.runway_days(org, balance=Decimal(0), today=TODAY) == Decimal("0.0")
    assert selectors.runway_days(org, balance=Decimal(-5), today=TODAY) == Decimal("0.0")


def test_no_recent_usage_means_no_runway(org):
    row(org, date(2026, 10, 1), 500)
    assert selectors.runway_days(org, balance=Decimal(100), today=TODAY) is None


def test_month_spend_is_the_utc_calendar_month(org):
    row(org, date(2026, 10, 31), 1)
    row(org, date(2026, 11, 1), 2)
    row(org, date(2026, 11, 30), 3, operation="x")
    row(org, date(2026, 12, 1), 4)
    assert selectors.month_spend(org, year=2026, month=11) == Decimal(5)
    assert selectors.month_spend(org, year=2026, month=12) == Decimal(4)
    assert selectors.month_bounds(2026, 12) == (date(2026, 12, 1), date(2027, 1, 1))


def test_usage_stats_for_the_dashboard(org, monkeypatch):
    monkeypatch.setattr(selectors, "today_utc", lambda: TODAY)
    row(org, TODAY, 14)
    stats = selectors.usage_stats(org, balance=Decimal(20))
    assert stats.runway_days == Decimal("10.0") and stats.month_spend == Decimal(14)
    assert stats.month_label == "November 2026"


def test_today_is_the_utc_date():
    assert selectors.today_utc() == datetime.now(UTC).date()
