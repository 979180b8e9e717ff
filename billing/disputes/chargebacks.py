"""Disputes of a purchase's charge (docs/stripe.md, "Disputes").

- `charge.dispute.created`: the disputed share of the purchase's credits is
  taken back the way a refund of the disputed amount would (into debt if they
  were spent), and the dispute is recorded open, which flags the org for staff.
- `charge.dispute.closed`: won gives the credits back; lost keeps them taken.

Each step happens once whatever the order and number of deliveries: the
dispute row is locked after its purchase, and the ledger keys are
`dispute:<id>` and `dispute-won:<id>`. A closed event that arrives first
records the outcome; a late created event then changes nothing (won) or is
already applied (lost).
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing import money
from billing.ledger.actor import Actor
from billing.ledger.book import open_book
from billing.models import Dispute, DisputeStatus, EntryKind, Purchase
from billing.models.purchases import major_text
from billing.payments.interface import object_id
from billing.purchases.errors import PurchaseError
from billing.purchases.refunds import locked_purchase_for_charge

logger = logging.getLogger(__name__)
ACTOR = Actor.system("stripe-dispute")


def apply_dispute_created(*, dispute: dict) -> Dispute | None:
    with transaction.atomic():
        found = _lock_dispute(dispute)
        if found is None:
            return None
        purchase, record = found
        if record.status == DisputeStatus.OPEN:
            _take(purchase, record)
        return record


def apply_dispute_closed(*, dispute: dict) -> Dispute | None:
    with transaction.atomic():
        found = _lock_dispute(dispute)
        if found is None:
            return None
        purchase, record = found
        if record.status != DisputeStatus.OPEN:
            return record  # a redelivery
        won = dispute.get("status") != "lost"
        if not won:
            _take(purchase, record)  # the created event may not have come (yet)
        elif record.taken_entry_id is not None:
            _give_back(purchase, record)
        record.status = DisputeStatus.WON if won else DisputeStatus.LOST
        record.closed_at = timezone.now()
        record.save(update_fields=["status", "closed_at"])
        return record


def _lock_dispute(dispute: dict) -> tuple[Purchase, Dispute] | None:
    """The purchase (locked first, as refunds lock it) and its dispute row (created once)."""
    charge = {"id": object_id(dispute.get("charge")),
              "payment_intent": dispute.get("payment_intent"), "metadata": {}}
    purchase = locked_purchase_for_charge(charge)
    if purchase is None:
        logger.info("dispute %s is not of a purchase's charge: ignored", dispute.get("id"))
        return None
    if not purchase.is_fulfilled:
        raise PurchaseError(f"dispute of purchase {purchase.pk} arrived before its payment "
                            "was fulfilled")
    record, _ = Dispute.objects.get_or_create(
        dispute_id=dispute["id"],
        defaults={"organization": purchase.organization, "purchase": purchase,
                  "charge_id": charge["id"], "amount_minor": int(dispute.get("amount") or 0),
                  "currency": (dispute.get("currency") or purchase.currency).lower()[:3],
                  "reason": str(dispute.get("reason") or "")[:100]},
    )
    record = Dispute.objects.select_for_update().get(pk=record.pk)
    return purchase, record


def _take(purchase: Purchase, record: Dispute) -> None:
    if record.taken_entry_id is not None:
        return
    paid = purchase.amount_paid_minor or purchase.price_minor
    left = purchase.total_credits - purchase.credits_refunded - purchase.credits_disputed
    share = money.round_credits(
        purchase.total_credits * Decimal(min(record.amount_minor, paid)) / Decimal(paid))
    take = min(share, left)
    if take <= 0:
        return
    with open_book(organization=purchase.organization) as book:
        posting = book.take_back(
            amount=take, entry_kind=EntryKind.DISPUTE, actor=ACTOR,
            reason=f"Dispute of {major_text(record.amount_minor, record.currency)} "
                   f"{record.currency.upper()} on {purchase.package_name}",
            idempotency_key=f"dispute:{record.dispute_id}",
            preferred_grants=[g for g in (purchase.paid_grant, purchase.bonus_grant) if g],
            metadata={"purchase_id": purchase.pk, "dispute": record.dispute_id},
        )
    record.taken_entry = posting.entry
    record.credits_taken = take
    record.save(update_fields=["taken_entry", "credits_taken"])
    purchase.credits_disputed += take
    purchase.save_fields("credits_disputed")


def _give_back(purchase: Purchase, record: Dispute) -> None:
    taken = record.taken_entry
    drawn = [(a.grant, -a.amount) for a in taken.allocations.select_related("grant")
             if a.amount < 0]
    with open_book(organization=purchase.organization) as book:
        posting = book.restore(
            amount=record.credits_taken, actor=ACTOR, reason=f"Dispute {record.dispute_id} won",
            idempotency_key=f"dispute-won:{record.dispute_id}", to_grants=drawn,
            metadata={"purchase_id": purchase.pk, "dispute": record.dispute_id},
            reverses=taken, entry_kind=EntryKind.DISPUTE,
        )
    record.restored_entry = posting.entry
    record.save(update_fields=["restored_entry"])
    purchase.credits_disputed -= record.credits_taken
    purchase.save_fields("credits_disputed")
