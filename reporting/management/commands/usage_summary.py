"""`usage_summary --org SLUG --year Y --month M [--format table|csv|json]`: the monthly
summary page's figures, from the same selector, for scripts and chargeback runs."""

import json
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from accounts.management.lookup import organization_or_error
from reporting.csv_export import csv_lines
from reporting.summaries.export import HEADER, summary_rows
from reporting.summaries.months import BadMonth, month_of
from reporting.summaries.selectors import monthly_summary

FORMATS = ("table", "csv", "json")


def _text(value) -> str:
    return str(value)


class Command(BaseCommand):
    help = "Print one organisation's usage for one UTC calendar month."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--year", required=True)
        parser.add_argument("--month", required=True)
        parser.add_argument("--format", default="table",
                            help="table (default), csv or json")

    def handle(self, *args, org, year, month, format, **options):
        if format not in FORMATS:
            raise CommandError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
        try:
            period = month_of(year, month)
        except BadMonth as error:
            raise CommandError(str(error)) from None
        organization = organization_or_error(org)
        summary = monthly_summary(organization=organization, month=period)
        rows = list(summary_rows(summary))
        if format == "csv":
            for line in csv_lines(HEADER, rows):
                self.stdout.write(line, ending="")
        elif format == "json":
            # Amounts as strings (never floats), as the API sends them; counts as numbers.
            records = [dict(zip(HEADER, (_text(v) if isinstance(v, Decimal) else v
                                         for v in row), strict=True)) for row in rows]
            # One write: json.dump's many small writes each got OutputWrapper's newline.
            document = {"organization": organization.slug, "month": period.code, "rows": records}
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self._table(rows)

    def _table(self, rows):
        cells = [list(HEADER)] + [[_text(v) for v in row] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(HEADER))]
        numeric = range(3, len(HEADER))
        for r in cells:
            self.stdout.write("  ".join(
                c.rjust(w) if i in numeric else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())


