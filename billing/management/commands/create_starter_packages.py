from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing import money
from billing.models.purchases import format_minor
from billing.purchases.starter_packages import create_starter_packages


class Command(BaseCommand):
    help = (
        "Create the starter credit packages (Starter, Growth, Scale) where missing. "
        "Never changes an existing package: edit those in the admin. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--currency", default="usd",
                            help="ISO code the prices are in (default usd); your Stripe "
                                 "account must accept it")

    def handle(self, *args, currency, **options):
        try:
            results = create_starter_packages(currency=currency)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        for result in results:
            package = result.package
            what = (f"{package.name}: {money.display(package.total_credits)} credits for "
                    f"{format_minor(package.price_minor, package.currency)}")
            verb = "Created" if result.created else "Kept (exists; edit it in the admin)"
            self.stdout.write(f"{verb} {what}")
