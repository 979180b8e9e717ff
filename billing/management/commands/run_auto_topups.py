from django.core.management.base import BaseCommand

from accounts.management.lookup import optional_organization
from billing.topups import runner


class Command(BaseCommand):
    help = ("Run auto-topup now, as the every-minute sweep does: due orgs, due retries and "
            "unsettled tries. Safe to run again and beside the workers.")

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organisation (slug)")

    def handle(self, *args, org, **options):
        organization = optional_organization(org)
        runs = ([runner.run_auto_topup(organization=organization)] if organization
                else runner.sweep())
        for run in runs:
            if run.attempt_id is not None:
                self.stdout.write(f"attempt {run.attempt_id}: {run.outcome}")
        self.stdout.write(f"{sum(r.attempt_id is not None for r in runs)} attempts tried")
