"""The dashboard's figures: this month's spend against last month's, the 30-day series.

All from the daily rollup, so the dashboard costs the same at any volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum

from billing.models import DailyUsage
from billing.usage.rollup.selectors import month_spend, today_utc
from reporting.summaries.months import current_month

SPARK_DAYS = 30


@dataclass(frozen=True)
class SpendComparison:
    this_month: Decimal
    last_month: Decimal
    this_label: str
    last_label: str

    @property
    def change_percent(self) -> Decimal | None:
        if not self.last_month:
            return None
        return ((self.this_month - self.last_month) * 100 / self.last_month).quantize(
            Decimal("0.1"))


def spend_comparison(organization) -> SpendComparison:
    now = current_month()
    before = now.previous
    return SpendComparison(
        this_month=month_spend(organization, year=now.year, month=now.month),
        last_month=month_spend(organization, year=before.year, month=before.month),
        this_label=now.label, last_label=before.label,
    )


def daily_spend(organization, *, days: int = SPARK_DAYS) -> list[tuple]:
    """(day, credits) for each of the last `days` UTC days, today last, zero-filled."""
    today = today_utc()
    first = today - timedelta(days=days - 1)
    found = dict(
        DailyUsage.objects.filter(organization=organization, day__gte=first, day__lte=today)
        .values("day").annotate(total=Sum("credits")).values_list("day", "total")
    )
    return [(first + timedelta(days=n), found.get(first + timedelta(days=n)) or Decimal(0))
            for n in range(days)]
