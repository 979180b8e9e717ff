"""Refunds of a purchase: staff ask the provider; credits are taken back when the provider
confirms, by the code every charge we made shares (billing/refunds/confirmed.py).
"""

import logging
import uuid

from django.db import transaction

from billing.models import EntryKind, LedgerEntry, Purchase, PurchaseStatus
from billing.models.disputes import FUNDS_WITHDRAWN
from billing.models.purchases import FULFILLED_STATUSES, major_text
from billing.payments.interface import Provider
from billing.payments.providers import provider_named
from billing.purchases.errors import PurchaseError
from billing.refunds.confirmed import apply_charge_refunded

logger = logging.getLogger(__name__)


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
    # one (the "refund in full" action) each request is new: a key derived from the
    # refunded total would, after a failed refund, replay that refund for 24 hours.
    key = f"purchase-{purchase.pk}-refund-{request_id or uuid.uuid4().hex}"
    return provider.refund(purchase=purchase, amount_minor=amount, idempotency_key=key,
                           metadata=metadata).refund


def _checked_amount(purchase: Purchase, amount_minor: int | None) -> int:
    if purchase.status not in FULFILLED_STATUSES | {PurchaseStatus.HELD}:
        raise PurchaseError(f"purchase {purchase.pk} is {purchase.get_status_display()}: "
                            "only paid purchases can be refunded")
    charged_back = purchase.disputes.filter(status__in=FUNDS_WITHDRAWN).first()
    if charged_back is not None:
        # Stripe refuses too (charge_disputed); the dispute decides where the money goes.
        raise PurchaseError(
            f"purchase {purchase.pk} is disputed ({charged_back.dispute_id}, "
            f"{charged_back.get_status_display().lower()}): a disputed charge cannot be "
            "refunded; answer the dispute in Stripe instead")
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
