from django.core.management.base import BaseCommand, CommandError

from accounts.management.lookup import optional_organization
from billing.usage.rollup.rebuild import rebuild_rollups
from billing.usage.rollup.selectors import month_bounds


def month_range(text: str | None):
    if not text:
        return None, None
    year, sep, month = text.partition("-")
    if not (sep and len(year) == 4 and len(month) == 2 and year.isdigit() and month.isdigit()
            and 1 <= int(month) <= 12):
        raise CommandError(f"--month must be written YYYY-MM, not {text!r}")
    return month_bounds(int(year), int(month))


class Command(BaseCommand):
    help = ("Recompute the daily usage rollup from the raw events; --check reports the "
            "differences and changes nothing (exit 1 when there are any).")

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organisation (slug)")
        parser.add_argument("--month", help="only this UTC month, YYYY-MM")
        parser.add_argument("--check", action="store_true", help="report, change nothing")

    def handle(self, *args, org, month, check, **options):
        first, following = month_range(month)
        organization = optional_organization(org)
        report = rebuild_rollups(organization=organization, first=first, following=following,
                                 check=check)
        for difference in report.differences:
            self.stdout.write(f"  {difference}")
        scope = f"{report.organizations} organisation(s)" + (f", {month}" if month else "")
        if check:
            if report.differences:
                self.stdout.write(self.style.ERROR(
                    f"Rollup differs from the events in {len(report.differences)} row(s): "
                    f"{scope}. Nothing changed."))
                raise SystemExit(1)
            self.stdout.write(self.style.SUCCESS(f"Rollup matches the events: {scope}."))
            return
        self.stdout.write(self.style.SUCCESS(
            f"Rollup rebuilt: {scope}; {len(report.differences)} row(s) differed, "
            f"{report.rows_written} written."))
