from django.core.management.base import BaseCommand, CommandError

from billing.pricing.sync.price_report import report_price_differences
from billing.pricing.sync.prices import sync_prices

SHOWN = 50


class Command(BaseCommand):
    help = (
        "Add AI providers, models (with their match rules) and prices from the pinned "
        "genai-prices package, and the default meters, credit rate and plan markups. Reports "
        "prices that differ; with --apply, makes them new rows from the next UTC midnight, "
        "leaving series staff changed by hand alone. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--provider", action="append", dest="providers", metavar="ID",
            help="Only this genai-prices provider (repeatable), e.g. --provider openai.",
        )
        parser.add_argument(
            "--apply", action="store_true",
            help="Apply upstream price changes from the next UTC midnight (never in the past).",
        )
        parser.add_argument(
            "--report-to-staff", action="store_true",
            help="Write nothing; mail the differences to staff (what the weekly schedule runs).",
        )
        parser.add_argument(
            "--all-differences", action="store_true", help="List every difference."
        )

    def handle(self, *args, providers=None, apply=False, all_differences=False,
               report_to_staff=False, **options):
        if report_to_staff:
            if apply or providers:
                raise CommandError("--report-to-staff takes no other option")
            sent = report_price_differences()
            self.stdout.write(f"Differences: {sent.differences}, models not synced: "
                              f"{sent.models_not_synced}, mailed to {sent.mailed_to} staff")
            return
        report = sync_prices(providers=providers, apply=apply)
        out = self.stdout
        out.write(f"AI providers added: {report.providers_added}")
        out.write(f"AI models added: {report.models_added}, match rules restored: "
                  f"{report.rules_restored}")
        out.write(f"Model prices added: {report.prices_added}")
        out.write(f"Meters added: {report.meters_added}, meter prices added: "
                  f"{report.meter_prices_added}")
        out.write(f"Credit rates added: {report.rates_added}, plan markups added: "
                  f"{report.markups_added}")
        for reason, count in sorted(report.skipped.items()):
            out.write(f"Skipped ({reason}): {count}")
        if apply:
            self._list("Applied from genai-prices", report.applied, all_differences)
            self._list("Left alone", report.left_alone, all_differences)
        else:
            self._list("Differences from genai-prices (not applied; --apply to apply)",
                       report.differences, all_differences)

    def _list(self, title, items, show_all):
        self.stdout.write(f"{title}: {len(items)}")
        shown = items if show_all else items[:SHOWN]
        for item in shown:
            self.stdout.write(f"  {item}")
        if len(shown) < len(items):
            self.stdout.write(f"  ... and {len(items) - len(shown)} more (--all-differences)")
