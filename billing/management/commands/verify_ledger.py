from django.core.management.base import BaseCommand

from accounts.management.lookup import optional_organization
from accounts.management.text import counted
from billing.ledger.verify import verify_ledger


class Command(BaseCommand):
    help = "Check every ledger invariant and the hash chain. Exit 1 with a report on failure."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organisation (slug)")

    def handle(self, *args, org, **options):
        organization = optional_organization(org)
        report = verify_ledger(organization=organization)
        summary = (f"{counted(report.accounts, 'account')}, "
                   f"{counted(report.entries, 'entry', 'entries')} checked")
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"Ledger OK: {summary}"))
            return
        self.stdout.write(self.style.ERROR(f"Ledger FAILED: {summary}, "
                                           f"{counted(len(report.problems), 'problem')}"))
        for problem in report.problems:
            self.stdout.write(f"  {problem}")
        raise SystemExit(1)
