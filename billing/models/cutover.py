"""The signed cut-over from the unkeyed chain to the keyed one (docs/ledger.md).

One row, recorded once by migration 0023: the install's first keyed entry at that
moment and, per account still starting with unkeyed (v1) entries, how many and the
hash of the last one, which (chained) commits to all of them. Signed with the chain
key and append-only like the ledger, so an unkeyed entry the row does not seal is
found by verify_ledger, whatever id it was given.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models.ledger import AppendOnlyModel


class LedgerCutover(AppendOnlyModel):
    only = models.BooleanField(default=True, unique=True, editable=False,
                               help_text="There is one cut-over.")
    created_at = models.DateTimeField(default=timezone.now)
    first_keyed_entry_id = models.BigIntegerField(
        null=True, blank=True,
        help_text="The install's first keyed entry when sealed (none: none was yet).")
    sealed = models.JSONField(
        default=dict, blank=True,
        help_text='{"<account id>": [unkeyed entries, hash of the last one], ...}')
    key_id = models.CharField(max_length=32)
    signature = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(only=True), name="one_cutover")]

    def __str__(self):
        return f"Ledger cut-over of {self.created_at:%Y-%m-%d} ({len(self.sealed)} accounts sealed)"
