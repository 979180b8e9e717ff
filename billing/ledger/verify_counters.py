"""verify_ledger's check of the counters kept beside the ledger (invariant 6 of
docs/ledger.md).

A purchase and a topup attempt keep the credits their refunds and disputes took
(`credits_refunded`, `credits_disputed`), which decide what a staff refund may
still take. They are not append-only, so they are never trusted: they are
recomputed from the refund and dispute entries that name the charge, whose
metadata the keyed hash covers, and a counter that differs was written behind
the ledger's back.
"""

from collections import defaultdict
from decimal import Decimal

from billing.models import EntryKind, Purchase, TopupAttempt

# The metadata key that names a charge we made, and the rows that keep its counters.
LINKS = (("purchase_id", Purchase, "purchase"), ("topup_attempt_id", TopupAttempt,
                                                 "topup attempt"))
COUNTED = {EntryKind.REFUND: "credits_refunded", EntryKind.DISPUTE: "credits_disputed"}


class Taken:
    """What the refund and dispute entries of an account took, per charge and counter."""

    def __init__(self):
        self.by_charge: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal))

    def add(self, entry) -> None:
        counter = COUNTED.get(entry.kind)
        if counter is None or not entry.metadata:
            return
        for name, _, _ in LINKS:
            if name in entry.metadata:
                self.by_charge[(name, str(entry.metadata[name]))][counter] -= entry.amount

    def problems(self, organization_id: int) -> list[str]:
        """A message per counter that differs from what the entries took."""
        messages = []
        for name, model, label in LINKS:
            rows = (model.objects.filter(organization_id=organization_id).order_by("pk")
                    .values_list("pk", *COUNTED.values()))
            for pk, *counters in rows:
                taken = self.by_charge.get((name, str(pk)), {})
                for counter, kept in zip(COUNTED.values(), counters, strict=True):
                    expected = taken.get(counter, Decimal(0))
                    if kept != expected:
                        messages.append(f"{label} {pk}: {counter} {kept} but its entries "
                                        f"took {expected}: changed outside the ledger")
        return messages
