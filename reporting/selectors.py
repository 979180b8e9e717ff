"""Reads of the daily usage rollup (never of raw events): runway, spend, usage breakdowns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from reporting.models import DailyUsage

BURN_DAYS = 7
RUNWAY_QUANTUM = Decimal("0.1")
ZERO = Decimal(0)


def today_utc() -> date:
    return timezone.now().astimezone(UTC).date()


def burn_per_day(organization, *, today: date | None = None) -> Decimal:
    """Average credits a day over the last 7 UTC days, today included."""
    today = today or today_utc()
    total = DailyUsage.objects.filter(
        organization=organization, day__gt=today - timedelta(days=BURN_DAYS), day__lte=today
    ).aggregate(total=Sum("credits"))["total"]
    return (total or ZERO) / BURN_DAYS


def runway_days(organization, *, balance: Decimal, today: date | None = None) -> Decimal | None:
    """Days the balance lasts at the last 7 days' burn, one decimal rounded down
    (a runway is better short than long); None without recent usage."""
    burn = burn_per_day(organization, today=today)
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
class UsageFilter:
    start: date
    end: date  # inclusive
    usage_type: str = ""
    resource: str = ""
    operation: str = ""
    user_label: str | None = None  # None: any user; "": events without a user


def usage_rows(organization, flt: UsageFilter) -> QuerySet:
    qs = DailyUsage.objects.filter(organization=organization, day__gte=flt.start, day__lte=flt.end)
    if flt.usage_type:
        qs = qs.filter(usage_type=flt.usage_type)
    if flt.resource:
        qs = qs.filter(resource=flt.resource)
    if flt.operation:
        qs = qs.filter(operation=flt.operation)
    if flt.user_label is not None:
        qs = qs.filter(user_label=flt.user_label)
    return qs


_SUMS = {
    "events": Coalesce(Sum("event_count"), 0),
    "quantity": Coalesce(Sum("quantity"), ZERO),
    "input_tokens": Coalesce(Sum("input_tokens"), 0),
    "output_tokens": Coalesce(Sum("output_tokens"), 0),
    "cost_usd": Coalesce(Sum("cost_usd"), ZERO),
    "credits": Coalesce(Sum("credits"), ZERO),
}


def usage_totals(organization, flt: UsageFilter) -> dict:
    return usage_rows(organization, flt).aggregate(**_SUMS)


def usage_breakdown(organization, flt: UsageFilter, *, by: str) -> list[dict]:
    """Totals grouped by one dimension (or several), largest spend first."""
    dims = [by] if isinstance(by, str) else list(by)
    return list(
        usage_rows(organization, flt).values(*dims).annotate(**_SUMS).order_by("-credits", *dims)
    )


def usage_by_day(organization, flt: UsageFilter) -> list[dict]:
    return list(usage_rows(organization, flt).values("day").annotate(**_SUMS).order_by("day"))


def filter_choices(organization, *, since: date) -> dict[str, list[str]]:
    """Values seen since `since`, for the usage page's select boxes."""
    qs = DailyUsage.objects.filter(organization=organization, day__gte=since)

    def distinct(name):
        return list(qs.order_by(name).values_list(name, flat=True).distinct())

    return {
        "resource": distinct("resource"),
        "operation": [v for v in distinct("operation") if v],
        "user_label": [v for v in distinct("user_label") if v],
    }


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
