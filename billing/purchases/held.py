"""Purchases held for staff: paid, but with an amount no discount or tax explains
(docs/stripe.md, "Held purchases"). Staff either grant the package's credits (the amount
was right after all, e.g. a discount Stripe did not itemise) or refund the payment, which
takes nothing back since nothing was granted."""

from django.db import transaction

from billing.ledger.actor import Actor
from billing.models import Purchase, PurchaseStatus
from billing.purchases.errors import PurchaseError
from billing.purchases.fulfilment import grant_purchase
from billing.purchases.refunds import request_refund


def grant_held_purchase(*, purchase: Purchase, granted_by) -> Purchase:
    """Staff: grant a held purchase's credits, once (keyed on its session, like fulfilment)."""
    with transaction.atomic():
        locked = Purchase.objects.select_for_update(of=("self",)).select_related(
            "organization").get(pk=purchase.pk)
        if locked.status != PurchaseStatus.HELD:
            raise PurchaseError(f"purchase {locked.pk} is {locked.get_status_display()}: "
                                "only a held purchase can be granted here")
        grant_purchase(locked, actor=Actor.user(granted_by))
    return locked


def refund_held_purchase(*, purchase: Purchase, refunded_by, request_id: str | None = None):
    """Staff: refund a held purchase in full through its provider; nothing to take back."""
    purchase.refresh_from_db()
    if purchase.status != PurchaseStatus.HELD:
        raise PurchaseError(f"purchase {purchase.pk} is {purchase.get_status_display()}: "
                            "only a held purchase can be refunded here")
    return request_refund(purchase=purchase, amount_minor=None, requested_by=refunded_by,
                          request_id=request_id)
