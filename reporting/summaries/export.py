"""The monthly summary as rows: one list for the CSV download and `usage_summary`.

Every row: section, usage type, name, then the six measures. Sections: `total`
(this month), `previous` (the month before), `type`, `resource`, `operation`,
`user`, `day`, and, across organisations, `organization`. Amounts keep all six
places (exports are exact); the CSV's cells pass through csv_export.safe_cell.
"""

from __future__ import annotations

from collections.abc import Iterator

from reporting.summaries.selectors import MEASURES, MonthlySummary

HEADER = ("section", "usage_type", "name", *MEASURES)


def _measures(row: dict) -> list:
    return [row[m] for m in MEASURES]


def summary_rows(summary: MonthlySummary) -> Iterator[list]:
    yield ["total", "", summary.month.code, *_measures(summary.totals)]
    yield ["previous", "", summary.month.previous.code, *_measures(summary.previous_totals)]
    for row in summary.breakdowns["type"]:
        yield ["type", row["usage_type"], row["usage_type"], *_measures(row)]
    for row in summary.breakdowns["resource"]:
        yield ["resource", row["usage_type"], row["resource"], *_measures(row)]
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
