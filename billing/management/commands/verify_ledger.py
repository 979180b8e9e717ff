from django.core.management.base import BaseCommand

from accounts.management.lookup import optional_organization
from billing.ledger.verify import verify_ledger


class Command(BaseCommand):
    help = "Check every ledger invariant and the hash chain. Exit 1 with a report on failure."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organisation (slug)")

    def handle(self, *args, org, **options):
        organization = optional_organization(org)
        report = verify_ledger(organization=organization)
        summary = f"{report.accounts} accounts, {report.entries} entries checked"
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"Ledger OK: {summary}"))
            return
        self.stdout.write(self.style.ERROR(f"Ledger FAILED: {summary}, "
                                           f"{len(report.problems)} problems"))
        for problem in report.problems:
            self.stdout.write(f"  {problem}")
        raise SystemExit(1)
