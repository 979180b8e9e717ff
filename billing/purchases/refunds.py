"""Refunds: staff ask the provider; credits are taken back when the provider confirms.

Invariant 6 of docs/ledger.md: a refund of a share r of a purchase takes back
r x (base + bonus) credits, rounded once, and cumulative refunds never take
back more than the purchase granted.
"""

import logging
from decimal import Decimal

from django.db import transaction

from billing import money
from billing.ledger.actor import Actor
from billing.ledger.book import open_book
from billing.models import EntryKind, LedgerEntry, Purchase, PurchaseStatus
from billing.models.purchases import FULFILLED_STATUSES, major_text
from billing.payments.interface import Provider, object_id
from billing.payments.providers import provider_named
from billing.purchases.errors import PurchaseError

logger = logging.getLogger(__name__)


def locked_purchase_for_charge(charge: dict) -> Purchase | None:
    """The purchase a charge paid for, locked; None when the charge is not ours.

    Matched by its PaymentIntent or charge id. The metadata alone is not trusted
    (another product on the same Stripe account can put any purchase_id there): a
    match by metadata also needs the charge's customer and organisation to be the
    purchase's own, else the charge is ignored and logged.
    """
    intent_id = object_id(charge.get("payment_intent"))
    query = Purchase.objects.select_for_update()
    purchase = query.filter(stripe_payment_intent_id=intent_id).first() if intent_id else None
    if purchase is None and charge.get("id"):
        purchase = query.filter(stripe_charge_id=charge["id"]).first()
    if purchase is None:
        # Stripe copies the PaymentIntent's metadata (ours: purchase_id) onto its charges.
        metadata = charge.get("metadata") or {}
        purchase_id = metadata.get("purchase_id")
        if purchase_id and str(purchase_id).isdigit():
            candidate = query.select_related("organization").filter(pk=int(purchase_id)).first()
            if candidate is not None and _same_owner(candidate, charge, metadata):
                purchase = candidate
            elif (candidate is not None and not candidate.stripe_customer_id
                  and not candidate.is_fulfilled
                  and metadata.get("organization") == candidate.organization.slug):
                # Its customer is known once the payment is fulfilled: decide on redelivery.
                raise PurchaseError(f"refund for purchase {candidate.pk} arrived before its "
                                    "payment was fulfilled")
            elif candidate is not None:
                logger.warning("charge %s names purchase %s in its metadata but its customer "
                               "or organisation differs: ignored", charge.get("id"), purchase_id)
    return purchase


def _same_owner(purchase: Purchase, charge: dict, metadata: dict) -> bool:
    customer = object_id(charge.get("customer"))
    return bool(customer and purchase.stripe_customer_id
                and customer == purchase.stripe_customer_id
                and metadata.get("organization") == purchase.organization.slug)


def credits_to_take_back(*, purchase: Purchase, cumulative_refunded_minor: int) -> Decimal:
    """Invariant 6: r = newly refunded / paid; take r x (base + bonus), rounded once.

    The refund that brings the total to the amount paid takes exactly what is
    left, so cumulative refunds never take back more than the purchase granted.
    """
    paid = purchase.amount_paid_minor or purchase.price_minor
    left = purchase.total_credits - purchase.credits_refunded - purchase.credits_disputed
    if cumulative_refunded_minor >= paid:
        return left
    newly = cumulative_refunded_minor - purchase.amount_refunded_minor
    share = money.round_credits(purchase.total_credits * Decimal(newly) / Decimal(paid))
    return min(share, left)


def apply_charge_refunded(*, charge: dict, refund: dict | None = None) -> Purchase | None:
    """Take back the credits of a refund Stripe confirmed. None when the charge is not a
    purchase's. `refund` is given only by a provider that refunds at once (the test
    provider), whose request id and refund are recorded on the entry so that a double
    submit refunds once."""
    charge_id = charge.get("id") or ""
    cumulative = int(charge.get("amount_refunded") or 0)
    with transaction.atomic():
        purchase = locked_purchase_for_charge(charge)
        if purchase is None:
            logger.info("charge %s is not a purchase's: refund ignored here", charge_id)
            return None
        if not purchase.is_fulfilled:
            # Stripe retries the event; by then the checkout event will have granted.
            raise PurchaseError(f"refund for purchase {purchase.pk} arrived before its payment "
                                "was fulfilled")
        paid = purchase.amount_paid_minor or purchase.price_minor
        cumulative = min(cumulative, paid)
        if cumulative <= purchase.amount_refunded_minor:
            return purchase  # a redelivery, or an older snapshot of the charge
        take = credits_to_take_back(purchase=purchase, cumulative_refunded_minor=cumulative)
        if take > 0:
            newly = cumulative - purchase.amount_refunded_minor
            with open_book(organization=purchase.organization) as book:
                book.take_back(
                    amount=take, entry_kind=EntryKind.REFUND, actor=Actor.system("stripe-refund"),
                    reason=f"Refund of {major_text(newly, purchase.currency)} "
                           f"{purchase.currency.upper()} for {purchase.package_name}",
                    idempotency_key=f"refund:{charge_id}:{cumulative}",
                    preferred_grants=[g for g in (purchase.paid_grant, purchase.bonus_grant) if g],
                    metadata={
                        "purchase_id": purchase.pk,
                        "charge": charge_id,
                        "amount_refunded": major_text(newly, purchase.currency),
                        "amount_refunded_total": major_text(cumulative, purchase.currency),
                        "currency": purchase.currency,
                        **_local_refund_fields(charge, refund, newly),
                    },
                )
        purchase.amount_refunded_minor = cumulative
        purchase.credits_refunded += take
        purchase.stripe_charge_id = purchase.stripe_charge_id or charge_id
        purchase.status = (PurchaseStatus.REFUNDED if cumulative >= paid
                           else PurchaseStatus.PARTIALLY_REFUNDED)
        purchase.save_fields("amount_refunded_minor", "credits_refunded", "stripe_charge_id",
                             "status")
    return purchase


def _local_refund_fields(charge: dict, refund: dict | None, newly: int) -> dict:
    request_id = (charge.get("metadata") or {}).get("request_id")
    if refund is None or not request_id:
        return {}
    return {"request_id": request_id, "refund_id": refund["id"], "amount_refunded_minor": newly}


def request_refund(*, purchase: Purchase, amount_minor: int | None, requested_by,
                   request_id: str | None = None) -> dict:
    """Staff: ask the purchase's provider to refund (all that is left when amount is None).

    With Stripe, credits move when charge.refunded arrives. A provider that refunds
    at once (the test provider) answers with the refunded charge, and the same
    refund code runs on it at once.
    """
    provider = provider_named(purchase.provider)
    if provider.refunds_at_once:
        return _refund_at_once(provider, purchase=purchase, amount_minor=amount_minor,
                               requested_by=requested_by, request_id=request_id)
    purchase.refresh_from_db()
    amount = _checked_amount(purchase, amount_minor)
    metadata = {"purchase_id": str(purchase.pk), "requested_by": requested_by.email}
    if not purchase.stripe_payment_intent_id:
        raise PurchaseError(f"purchase {purchase.pk} has no PaymentIntent to refund")
    # A form's own request id makes a double submit refund once, while two deliberate
    # refunds of the same amount (before Stripe confirms the first) stay two. Without
    # one (the "refund in full" action), the key derives from the refunded total so far.
    key = (f"purchase-{purchase.pk}-refund-{request_id}" if request_id else
           f"purchase-{purchase.pk}-refund-{purchase.amount_refunded_minor}-{amount}")
    return provider.refund(purchase=purchase, amount_minor=amount, idempotency_key=key,
                           metadata=metadata).refund


def apply_refund_failed(*, refund: dict) -> Purchase | None:
    """A refund Stripe reported failed (charge.refund.updated, status failed): give back
    the credits its charge.refunded took, once, keyed on the refund id.

    Stripe lowers the charge's amount_refunded when a refund fails, so the purchase's
    refunded total drops by the refund's amount and later refunds count from there.
    A failure of a refund whose charge.refunded never arrived has nothing to give back.
    """
    if refund.get("status") != "failed":
        return None
    refund_id = refund.get("id") or ""
    amount = int(refund.get("amount") or 0)
    charge = {"id": object_id(refund.get("charge")),
              "payment_intent": refund.get("payment_intent"), "metadata": {}}
    with transaction.atomic():
        purchase = locked_purchase_for_charge(charge)
        if purchase is None or not purchase.is_fulfilled or amount <= 0:
            logger.info("failed refund %s is not of a fulfilled purchase: ignored", refund_id)
            return purchase
        key = f"refund-failed:{refund_id}"
        with open_book(organization=purchase.organization) as book:
            if book.find(key) is not None:
                return purchase  # a redelivery
            if amount > purchase.amount_refunded_minor or purchase.credits_refunded <= 0:
                logger.warning("failed refund %s of purchase %s was never applied: nothing to "
                               "give back", refund_id, purchase.pk)
                return purchase
            paid = purchase.amount_paid_minor or purchase.price_minor
            remaining_refunded = purchase.amount_refunded_minor - amount
            give = purchase.credits_refunded if remaining_refunded == 0 else min(
                purchase.credits_refunded,
                money.round_credits(purchase.total_credits * Decimal(amount) / Decimal(paid)))
            book.restore(
                amount=give, actor=Actor.system("stripe-refund"), entry_kind=EntryKind.REFUND,
                reason=f"Refund of {major_text(amount, purchase.currency)} "
                       f"{purchase.currency.upper()} failed: credits given back",
                idempotency_key=key,
                to_grants=[(g, g.amount) for g in (purchase.paid_grant, purchase.bonus_grant)
                           if g],
                metadata={"purchase_id": purchase.pk, "refund": refund_id,
                          "amount_failed": major_text(amount, purchase.currency),
                          "currency": purchase.currency},
            )
        purchase.amount_refunded_minor = remaining_refunded
        purchase.credits_refunded -= give
        purchase.status = (PurchaseStatus.PARTIALLY_REFUNDED if remaining_refunded
                           else PurchaseStatus.PAID)
        purchase.save_fields("amount_refunded_minor", "credits_refunded", "status")
    return purchase


def _checked_amount(purchase: Purchase, amount_minor: int | None) -> int:
    if purchase.status not in FULFILLED_STATUSES:
        raise PurchaseError(f"purchase {purchase.pk} is {purchase.get_status_display()}: "
                            "only paid purchases can be refunded")
    refundable = purchase.refundable_minor
    amount = refundable if amount_minor is None else int(amount_minor)
    if refundable <= 0:
        raise PurchaseError(f"purchase {purchase.pk} is already refunded in full")
    if not 0 < amount <= refundable:
        raise PurchaseError(
            f"the refund must be between {major_text(1, purchase.currency)} and "
            f"{major_text(refundable, purchase.currency)} {purchase.currency.upper()}")
    return amount


def _refund_at_once(provider: Provider, *, purchase: Purchase, amount_minor: int | None,
                    requested_by, request_id: str | None) -> dict:
    """A refund final when asked (the test provider's), applied at once. What Stripe's
    idempotency key does for a Stripe refund, the request id does here: under the
    purchase's lock, a request id whose refund is already in the ledger answers that
    refund and posts nothing."""
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
        if request_id:
            done = LedgerEntry.objects.filter(
                account__organization_id=purchase.organization_id, kind=EntryKind.REFUND,
                metadata__purchase_id=purchase.pk, metadata__request_id=request_id,
            ).first()
            if done is not None:
                return {"id": done.metadata.get("refund_id"), "status": "succeeded",
                        "amount": done.metadata.get("amount_refunded_minor"), "replayed": True}
        amount = _checked_amount(purchase, amount_minor)
        metadata = {"purchase_id": str(purchase.pk), "requested_by": requested_by.email}
        if request_id:
            metadata["request_id"] = request_id
        answer = provider.refund(purchase=purchase, amount_minor=amount,
                                 idempotency_key=request_id or "", metadata=metadata)
        apply_charge_refunded(charge=answer.refunded_charge, refund=answer.refund)
        return answer.refund
