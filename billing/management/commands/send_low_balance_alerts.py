from django.core.management.base import BaseCommand

from accounts.management.lookup import optional_organization
from billing.alerts import services


class Command(BaseCommand):
    help = ("Check every org's balance against its low-balance levels, as the schedule does: "
            "one notification per downward crossing. Safe to run again.")

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organisation (slug)")

    def handle(self, *args, org, **options):
        organization = optional_organization(org)
        sent = (len(services.check_levels(organization=organization).notified) if organization
                else services.check_all())
        self.stdout.write(f"{sent} notifications sent")
