"""The dashboard's figures: this month's spend against the same days of last month's,
and the 30-day series.

All from the daily rollup, so the dashboard costs the same at any volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from billing.models import DailyUsage
from billing.usage.rollup.selectors import month_spend, today_utc
from reporting.summaries.months import Month

SPARK_DAYS = 30


@dataclass(frozen=True)
class SpendComparison:
    this_month: Decimal
    last_month: Decimal
    last_month_to_date: Decimal  # last month's first `days` days, the fair comparison
    days: int
    this_label: str
    last_label: str

    @property
    def change_percent(self) -> Decimal | None:
        """This month so far against the same days of last month (5 days against 5)."""
        if not self.last_month_to_date:
            return None
        change = (self.this_month - self.last_month_to_date) * 100 / self.last_month_to_date
        return change.quantize(Decimal("0.1"))


def spend_comparison(organization, *, today: date | None = None) -> SpendComparison:
    today = today or today_utc()
    now = Month(today.year, today.month)
    before = now.previous
    # On the 31st against a 30-day month, the whole of last month is "the same days".
    same_days_end = min(before.first + timedelta(days=today.day), now.first)
    to_date = DailyUsage.objects.filter(organization=organization, day__gte=before.first,
                                        day__lt=same_days_end).aggregate(total=Sum("credits"))
    return SpendComparison(
        this_month=month_spend(organization, year=now.year, month=now.month),
        last_month=month_spend(organization, year=before.year, month=before.month),
        last_month_to_date=to_date["total"] or Decimal(0), days=today.day,
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
