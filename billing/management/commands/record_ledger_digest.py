from django.core.management.base import BaseCommand

from billing.ledger.digests import fingerprint, record_digest


class Command(BaseCommand):
    help = ("Record today's (UTC) digest of every account's chain head and mail it to staff; "
            "the daily schedule runs the same. Safe to run again: one digest a day.")

    def handle(self, *args, **options):
        digest, created = record_digest()
        state = "recorded and mailed to staff" if created else "already recorded today"
        self.stdout.write(f"Ledger digest of {digest.day}: {len(digest.heads)} accounts, "
                          f"{state}. Fingerprint {fingerprint(digest)}")
