"""Reads for the usage page: totals and breakdowns of the daily rollup (never raw events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce

from billing.models import DailyUsage, Meter
from billing.models.usage import UsageType

ZERO = Decimal(0)


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


# The rollup's measures summed, zero when no row matches (the summaries use them too).
ROLLUP_SUMS = {
    "events": Coalesce(Sum("event_count"), 0),
    "quantity": Coalesce(Sum("quantity"), ZERO),
    "input_tokens": Coalesce(Sum("input_tokens"), 0),
    "output_tokens": Coalesce(Sum("output_tokens"), 0),
    "cost_usd": Coalesce(Sum("cost_usd"), ZERO),
    "credits": Coalesce(Sum("credits"), ZERO),
}


def usage_totals(organization, flt: UsageFilter) -> dict:
    return usage_rows(organization, flt).aggregate(**ROLLUP_SUMS)


def usage_breakdown(organization, flt: UsageFilter, *, by: str) -> list[dict]:
    """Totals grouped by one dimension (or several), largest spend first."""
    dims = [by] if isinstance(by, str) else list(by)
    return list(
        usage_rows(organization, flt).values(*dims).annotate(**ROLLUP_SUMS)
        .order_by("-credits", *dims)
    )


TOKENS = "tokens"  # an AI model's quantity: its input and output tokens


def with_units(rows: list[dict]) -> list[dict]:
    """Rows of one model or meter each (usage_type and resource) get the unit their
    quantity is in: tokens, or the meter's unit. A quantity is only ever shown, or
    summed, within one unit: a row of several models or meters has none."""
    codes = {row["resource"] for row in rows if row["usage_type"] == UsageType.INFRASTRUCTURE}
    units = dict(Meter.objects.filter(code__in=codes).values_list("code", "unit"))
    for row in rows:
        row["unit"] = (TOKENS if row["usage_type"] == UsageType.AI_TOKENS
                       else units.get(row["resource"], ""))
    return rows


def usage_by_day(organization, flt: UsageFilter) -> list[dict]:
    return list(usage_rows(organization, flt).values("day").annotate(**ROLLUP_SUMS).order_by("day"))


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
