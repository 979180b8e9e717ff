"""The monthly summary as rows: one list for the CSV download and `usage_summary`.

Every row: section, usage type, name, then the six measures. Sections: `total`
(this month), `previous` (the month before), `type`, `resource`, `operation`,
`user`, `day`, and, across organisations, `organization`. Credits keep all six
places and cost_usd all sixteen on every row (exports are exact, and one column has one
precision). A quantity is only summed within one unit: it and its `unit` are given on
`resource` rows (one model or meter each) and left empty on rows that span several.
The CSV's cells pass through csv_export.safe_cell.
"""

from __future__ import annotations

from collections.abc import Iterator

from billing import money
from reporting.summaries.selectors import MEASURES, MonthlySummary

HEADER = ("section", "usage_type", "name", *MEASURES[:2], "unit", *MEASURES[2:])


def _measures(row: dict, *, one_unit: bool = False) -> list:
    values = {**row, "cost_usd": money.export_usd(row["cost_usd"])}
    if not one_unit:
        values.update(quantity="", unit="")
    return [values[m] for m in MEASURES[:2]] + [values["unit"]] + [values[m] for m in MEASURES[2:]]


def summary_rows(summary: MonthlySummary) -> Iterator[list]:
    yield ["total", "", summary.month.code, *_measures(summary.totals)]
    yield ["previous", "", summary.month.previous.code, *_measures(summary.previous_totals)]
    for row in summary.breakdowns["type"]:
        yield ["type", row["usage_type"], row["usage_type"], *_measures(row)]
    for row in summary.breakdowns["resource"]:
        yield ["resource", row["usage_type"], row["resource"], *_measures(row, one_unit=True)]
    for row in summary.breakdowns["operation"]:
        yield ["operation", "", row["operation"], *_measures(row)]
    for row in summary.breakdowns["user"]:
        yield ["user", "", row["user_label"], *_measures(row)]
    for row in summary.days:
        yield ["day", "", row["day"].isoformat(), *_measures(row)]
    for row in summary.by_org:
        yield ["organization", "", row["organization__slug"], *_measures(row)]


def summary_filename(summary: MonthlySummary) -> str:
    who = summary.organization.slug if summary.organization is not None else "all-organizations"
    return f"usage-{who}-{summary.month.code}.csv"
