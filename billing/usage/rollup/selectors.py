"""Reads of the daily usage rollup that billing itself needs: burn rate, runway, month spend.

The rollup (never raw events) so they stay cheap at any volume; the reports
built on the same rollup live in reporting/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db.models import Sum
from django.utils import timezone

from billing.models import DailyUsage

BURN_DAYS = 7


RUNWAY_QUANTUM = Decimal("0.1")


ZERO = Decimal(0)


def today_utc() -> date:
    return timezone.now().astimezone(UTC).date()


def burn_days(today: date) -> dict:
    """The rollup filter for the last 7 UTC days, today included."""
    return {"day__gt": today - timedelta(days=BURN_DAYS), "day__lte": today}


def burn_per_day(organization, *, today: date | None = None) -> Decimal:
    """Average credits a day over the last 7 UTC days, today included."""
    total = DailyUsage.objects.filter(
        organization=organization, **burn_days(today or today_utc())
    ).aggregate(total=Sum("credits"))["total"]
    return (total or ZERO) / BURN_DAYS


def runway_days(organization, *, balance: Decimal, today: date | None = None) -> Decimal | None:
    """Days the balance lasts at the last 7 days' burn, one decimal rounded down
    (a runway is better short than long); None without recent usage."""
    return runway_at(balance, burn_per_day(organization, today=today))


def runway_at(balance: Decimal, burn: Decimal) -> Decimal | None:
    """runway_days for a burn per day already read."""
    if burn <= 0:
        return None
    if balance <= 0:
        return Decimal("0.0")
    return (balance / burn).quantize(RUNWAY_QUANTUM, rounding=ROUND_DOWN)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """First day of the month and first day of the next (UTC calendar months)."""
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first, following


def month_spend(organization, *, year: int | None = None, month: int | None = None) -> Decimal:
    """Credits charged for usage that occurred in that UTC month (default: this one)."""
    today = today_utc()
    first, following = month_bounds(year or today.year, month or today.month)
    total = DailyUsage.objects.filter(
        organization=organization, day__gte=first, day__lt=following
    ).aggregate(total=Sum("credits"))["total"]
    return total or ZERO


@dataclass(frozen=True)
class UsageStats:
    runway_days: Decimal | None
    month_spend: Decimal
    month_label: str


def usage_stats(organization, *, balance: Decimal) -> UsageStats:
    """The dashboard's runway and this month's spend, both from the rollup."""
    today = today_utc()
    return UsageStats(
        runway_days=runway_days(organization, balance=balance, today=today),
        month_spend=month_spend(organization, year=today.year, month=today.month),
        month_label=today.strftime("%B %Y"),
    )
