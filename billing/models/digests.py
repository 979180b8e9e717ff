"""Daily digests of every account's chain head, kept (and mailed to staff) as evidence.

Append-only like the ledger (the same guards and triggers). A digest names,
per account, the number of entries and the hash of the last one at that
moment, signed with the chain key; `verify_ledger --digest` proves the
ledger still holds that history, so cutting off the newest entries and
resetting the head is found.
"""

from django.db import models
from django.utils import timezone

from billing.models.ledger import AppendOnlyModel


class LedgerDigest(AppendOnlyModel):
    day = models.DateField(unique=True, help_text="UTC day the digest was taken.")
    created_at = models.DateTimeField(default=timezone.now)
    heads = models.JSONField(help_text='{"<account id>": [entry count, last hash], ...}')
    key_id = models.CharField(max_length=32)
    signature = models.CharField(max_length=64)
    previous = models.CharField(
        max_length=64, blank=True, default="",
        help_text="Fingerprint of the digest before this one (signed with it); empty for the "
                  "first, and for digests recorded before digests were chained.")

    class Meta:
        ordering = ["-day"]

    def __str__(self):
        return f"Ledger digest of {self.day} ({len(self.heads)} accounts)"
