from django.core.management.base import BaseCommand, CommandError

from accounts.management.counts import plural_count
from accounts.management.lookup import optional_organization
from accounts.text import text_problem
from billing.ledger import digests
from billing.ledger.alongside import Alongside
from billing.ledger.verify import Problem, verify_ledger
from billing.usage.rollup.rebuild import differences_in_snapshot


class Command(BaseCommand):
    help = ("Check every ledger invariant, the keyed hash chain, the database guards, the "
            "history against a signed daily digest and the daily usage rollup against the "
            "events. Exit 1 with a report on failure.")

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this organisation (slug)")
        parser.add_argument("--digest", metavar="D",
                            help="prove the history against this digest: its day "
                                 "(YYYY-MM-DD), its id, its fingerprint (the copy mailed to "
                                 "staff) or 'latest' (the default when any)")

    def handle(self, *args, org, digest, **options):
        organization = optional_organization(org)
        chosen = None
        if digest is not None:
            chosen = None if text_problem(digest) else digests.find_digest(digest.strip())
            if chosen is None:
                raise CommandError(f"no ledger digest {digest!r} (a day, an id, a fingerprint "
                                   "or 'latest'); for a fingerprint: the digest it names was "
                                   "removed or altered")
        # The rollup is not append-only: checked against the events it sums (invariant 8),
        # on its own connection while the chains are walked (billing/ledger/alongside.py).
        with Alongside(lambda: differences_in_snapshot(organization)) as rollup:
            report = verify_ledger(organization=organization, digest=chosen)
            rollup_differences = rollup.result()
        for difference in rollup_differences:
            report.problems.append(Problem(difference.organization, "8",
                                           f"the daily usage rollup differs from the events: "
                                           f"{difference}"))
        summary = (f"{plural_count(report.accounts, 'account')}, "
                   f"{plural_count(report.entries, 'entry', 'entries')} checked")
        if report.digest is not None:
            summary += (f"; against the digest of {report.digest.day} "
                        f"(fingerprint {digests.fingerprint(report.digest)})")
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"Ledger OK: {summary}"))
            return
        self.stdout.write(self.style.ERROR(f"Ledger FAILED: {summary}, "
                                           f"{plural_count(len(report.problems), 'problem')}"))
        for problem in report.problems:
            self.stdout.write(f"  {problem}")
        raise SystemExit(1)
