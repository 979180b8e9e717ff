"""The monthly summary: one UTC calendar month of the daily rollup, for one org or all.

Every figure is a sum of rollup rows (never raw events), so the page costs the
same handful of queries at any volume: on PostgreSQL one scan of the month with
grouping sets (grouping_sets.py) and the previous month's total; elsewhere one
grouped query per breakdown and one for the days. `organization=None`
is the staff view across every organisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet

from billing import money
from billing.models import DailyUsage
from billing.models.usage import UsageType
from reporting.selectors import ROLLUP_SUMS, with_units
from reporting.summaries import grouping_sets
from reporting.summaries.months import Month

ZERO = Decimal(0)
MEASURES = ("events", "quantity", "input_tokens", "output_tokens", "cost_usd", "credits")
TYPE_LABELS = dict(UsageType.choices)
# Each breakdown: its name and the rollup columns it groups by.
BREAKDOWNS = {
    "type": ("usage_type",),
    "resource": ("usage_type", "resource"),
    "operation": ("operation",),
    "user": ("user_label",),
}


def _exact(row: dict) -> dict:
    """Six places for credits and quantities, as stored. A no-op on PostgreSQL; SQLite (the
    demo) sums decimals through floats and hands back fifteen significant digits."""
    for name in ("quantity", "credits"):
        row[name] = money.round_credits(row[name])
    return row


@dataclass
class MonthlySummary:
    month: Month
    organization: object | None  # None: every organisation (staff)
    totals: dict
    previous_totals: dict
    breakdowns: dict[str, list[dict]]
    days: list[dict]  # every day of the month, zero-filled
    by_org: list[dict] = field(default_factory=list)  # staff, across orgs only

    @property
    def change(self) -> Decimal:
        """Credits this month minus the month before."""
        return self.totals["credits"] - self.previous_totals["credits"]

    @property
    def change_percent(self) -> Decimal | None:
        before = self.previous_totals["credits"]
        if not before:
            return None
        return (self.change * 100 / before).quantize(Decimal("0.1"))


def month_rows(*, organization, month: Month) -> QuerySet:
    qs = DailyUsage.objects.filter(day__gte=month.first, day__lt=month.following)
    if organization is not None:
        qs = qs.filter(organization=organization)
    return qs


def month_totals(*, organization, month: Month) -> dict:
    return _exact(month_rows(organization=organization, month=month).aggregate(**ROLLUP_SUMS))


def breakdown(*, organization, month: Month, by: tuple[str, ...]) -> list[dict]:
    return [_exact(row) for row in
            month_rows(organization=organization, month=month)
            .values(*by).annotate(**ROLLUP_SUMS).order_by("-credits", *by)]


def daily(*, organization, month: Month) -> list[dict]:
    found = {
        row["day"]: _exact(row)
        for row in month_rows(organization=organization, month=month)
        .values("day").annotate(**ROLLUP_SUMS).order_by("day")
    }
    return [found.get(day) or {"day": day, **_empty()} for day in month.days()]


def _empty() -> dict:
    return {name: money.ZERO if name in ("quantity", "credits") else ZERO
            if name == "cost_usd" else 0 for name in MEASURES}


def _label_types(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["type_label"] = TYPE_LABELS.get(row["usage_type"], row["usage_type"])
    return rows


def _sorted(rows: list[dict], by: tuple[str, ...]) -> list[dict]:
    """Largest spend first, then by the dimensions: the order of the ORM queries below."""
    rows = sorted(rows, key=lambda row: tuple(row[d] for d in by))
    return sorted(rows, key=lambda row: row["credits"], reverse=True)


def _in_one_scan(*, organization, month: Month) -> tuple[dict, dict, list[dict]]:
    sets = grouping_sets.grouped(organization=organization, first=month.first,
                                 following=month.following)
    totals = _exact(sets["total"][0]) if sets["total"] else _exact(
        {name: 0 for name in MEASURES})
    breakdowns = {name: _sorted([_exact(r) for r in sets[name]], by)
                  for name, by in BREAKDOWNS.items()}
    found = {row["day"]: _exact(row) for row in sets["day"]}
    days = [found.get(day) or {"day": day, **_empty()} for day in month.days()]
    return totals, breakdowns, days


def monthly_summary(*, organization, month: Month) -> MonthlySummary:
    if grouping_sets.available():
        totals, breakdowns, days = _in_one_scan(organization=organization, month=month)
    else:
        totals = month_totals(organization=organization, month=month)
        breakdowns = {name: breakdown(organization=organization, month=month, by=by)
                      for name, by in BREAKDOWNS.items()}
        days = daily(organization=organization, month=month)
    summary = MonthlySummary(
        month=month,
        organization=organization,
        totals=totals,
        previous_totals=month_totals(organization=organization, month=month.previous),
        breakdowns=breakdowns,
        days=days,
    )
    _label_types(summary.breakdowns["type"])
    _label_types(with_units(summary.breakdowns["resource"]))
    if organization is None:
        summary.by_org = [
            _exact(row) for row in month_rows(organization=None, month=month)
            .values("organization__slug", "organization__name").annotate(**ROLLUP_SUMS)
            .order_by("-credits", "organization__slug")
        ]
    return summary
