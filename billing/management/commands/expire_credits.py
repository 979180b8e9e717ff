from django.core.management.base import BaseCommand

from accounts.management.counts import plural_count
from accounts.management.lookup import optional_organization
from billing.ledger.expiry import expire_credits


class Command(BaseCommand):
    help = "Post expiry entries for grants past their expiry. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organisation (slug)")

    def handle(self, *args, org, **options):
        organization = optional_organization(org)
        posted = expire_credits(organization=organization)
        self.stdout.write(f"{plural_count(posted, 'expiry entry', 'expiry entries')} posted")
