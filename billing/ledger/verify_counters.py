"""verify_ledger's check of the counters kept beside the ledger (invariant 6 of
docs/ledger.md).

A purchase and a topup attempt keep what their refunds and disputes took: the
credits (`credits_refunded`, `credits_disputed`), the money refunded
(`amount_refunded_minor`) and, for a purchase, the status that follows from it. They
decide what a staff refund may still take, and they are not append-only, so they are
never trusted: they are recomputed from the entries that name the charge, whose
metadata the keyed hash covers, and a counter that differs was written behind the
ledger's back. A refund that took no credits (nothing was left to take, or nothing was
granted) posts no entry, so the money the entries show is a floor, not the total.
"""

from collections import defaultdict
from decimal import Decimal, InvalidOperation

from billing.models import EntryKind, Purchase, PurchaseStatus, TopupAttempt
from billing.models.purchases import major_to_minor

# The metadata key that names a charge we made, and the rows that keep its counters.
LINKS = (("purchase_id", Purchase, "purchase"), ("topup_attempt_id", TopupAttempt,
                                                 "topup attempt"))
COUNTED = {EntryKind.REFUND: "credits_refunded", EntryKind.DISPUTE: "credits_disputed"}
# A granted purchase's statuses, least refunded first (billing/payments/charges.py sets
# them from the money refunded).
REFUND_STATUSES = (PurchaseStatus.PAID, PurchaseStatus.PARTIALLY_REFUNDED,
                   PurchaseStatus.REFUNDED)


class Taken:
    """What the refund and dispute entries of an account took, per charge and counter, and
    what its entries show of the money: paid (a purchase's entry) and refunded."""

    def __init__(self):
        self.by_charge: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal))
        self.refunded_minor: dict[tuple[str, str], int] = {}
        self.paid_minor: dict[str, int] = {}  # purchase id -> what its purchase entry says

    def add(self, entry) -> None:
        """Call for every entry of the account, in seq order."""
        metadata = entry.metadata or {}
        charge = next(((name, str(metadata[name])) for name, _, _ in LINKS
                       if name in metadata), None)
        if charge is None:
            return
        if entry.kind == EntryKind.PURCHASE and charge[0] == "purchase_id":
            if (paid := _minor(metadata, "amount_paid")) is not None:
                self.paid_minor[charge[1]] = paid
        counter = COUNTED.get(entry.kind)
        if counter is None:
            return
        self.by_charge[charge][counter] -= entry.amount
        if entry.kind == EntryKind.REFUND:
            self._add_refunded_money(charge, metadata)

    def _add_refunded_money(self, charge: tuple[str, str], metadata: dict) -> None:
        # A refund's entry names the charge's refunded total after it; a failed refund's
        # the amount given back, which Stripe takes off the total.
        if (total := _minor(metadata, "amount_refunded_total")) is not None:
            self.refunded_minor[charge] = total
        elif (failed := _minor(metadata, "amount_failed")) is not None:
            self.refunded_minor[charge] = self.refunded_minor.get(charge, 0) - failed

    def problems(self, organization_id: int) -> list[str]:
        """A message per counter that differs from what the entries took."""
        messages = []
        for name, model, label in LINKS:
            rows = (model.objects.filter(organization_id=organization_id).order_by("pk")
                    .values_list("pk", "amount_refunded_minor", *COUNTED.values()))
            for pk, refunded_minor, *counters in rows:
                charge = (name, str(pk))
                taken = self.by_charge.get(charge, {})
                for counter, kept in zip(COUNTED.values(), counters, strict=True):
                    expected = taken.get(counter, Decimal(0))
                    if kept != expected:
                        messages.append(f"{label} {pk}: {counter} {kept} but its entries "
                                        f"took {expected}: changed outside the ledger")
                shown = self.refunded_minor.get(charge, 0)
                if refunded_minor < shown:
                    messages.append(f"{label} {pk}: amount_refunded_minor {refunded_minor} "
                                    f"but its refund entries show {shown} refunded: changed "
                                    "outside the ledger")
        messages += self._purchase_problems(organization_id)
        return messages

    def _purchase_problems(self, organization_id: int) -> list[str]:
        """A purchase its entry shows granted: the amount paid is the entry's, and its
        status lies between what its refund entries show and what it says it refunded."""
        messages = []
        rows = (Purchase.objects.filter(organization_id=organization_id,
                                        pk__in=[int(pk) for pk in self.paid_minor])
                .order_by("pk").values_list("pk", "amount_paid_minor",
                                            "amount_refunded_minor", "status"))
        for pk, paid_minor, refunded_minor, status in rows:
            paid = self.paid_minor[str(pk)]
            if paid_minor != paid:
                messages.append(f"purchase {pk}: amount_paid_minor {paid_minor} but its "
                                f"purchase entry says {paid}: changed outside the ledger")
            shown = self.refunded_minor.get(("purchase_id", str(pk)), 0)
            lowest = _refund_status(shown, paid)
            highest = _refund_status(max(refunded_minor, shown), paid)
            allowed = REFUND_STATUSES[REFUND_STATUSES.index(lowest):
                                      REFUND_STATUSES.index(highest) + 1]
            if status not in allowed:
                messages.append(f"purchase {pk}: status {status} but its entries show it "
                                f"granted and {shown} of {paid} refunded ({lowest}): changed "
                                "outside the ledger")
        return messages


def _refund_status(refunded_minor: int, paid_minor: int) -> str:
    if refunded_minor >= paid_minor:
        return PurchaseStatus.REFUNDED
    return PurchaseStatus.PARTIALLY_REFUNDED if refunded_minor else PurchaseStatus.PAID


def _minor(metadata: dict, key: str) -> int | None:
    """An amount of the metadata (major text, in its currency) in minor units; None when
    the entry does not carry it."""
    try:
        return major_to_minor(str(metadata[key]), str(metadata["currency"]))
    except (KeyError, InvalidOperation, ValueError):
        return None
