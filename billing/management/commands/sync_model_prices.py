from django.core.management.base import BaseCommand

from billing.pricing.sync import sync_prices

SHOWN_DIFFERENCES = 50


class Command(BaseCommand):
    help = (
        "Add AI model prices from the pinned genai-prices package, and the default meters, "
        "credit rate and plan markups. Only adds; reports prices that differ. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--provider", action="append", dest="providers", metavar="ID",
            help="Only this genai-prices provider (repeatable), e.g. --provider openai.",
        )
        parser.add_argument(
            "--all-differences", action="store_true", help="List every difference."
        )

    def handle(self, *args, providers=None, all_differences=False, **options):
        report = sync_prices(providers=providers)
        out = self.stdout
        out.write(f"AI models added: {report.models_added}")
        out.write(f"Model prices added: {report.prices_added}")
        out.write(f"Meters added: {report.meters_added}, meter prices added: "
                  f"{report.meter_prices_added}")
        out.write(f"Credit rates added: {report.rates_added}, plan markups added: "
                  f"{report.markups_added}")
        for reason, count in sorted(report.skipped.items()):
            out.write(f"Skipped ({reason}): {count}")
        differences = report.differences
        out.write(f"Differences from genai-prices (not applied): {len(differences)}")
        shown = differences if all_differences else differences[:SHOWN_DIFFERENCES]
        for difference in shown:
            out.write(f"  {difference}")
        if len(shown) < len(differences):
            out.write(f"  ... and {len(differences) - len(shown)} more (--all-differences)")
