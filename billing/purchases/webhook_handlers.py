"""The Stripe events purchases handle: Checkout Sessions in payment mode (refunds:
billing/refunds/webhook_handlers.py).

Registered with the webhook dispatcher (billing/webhooks/) when billing starts.
A paid purchase's card is kept for auto-topup, as the success page does.
"""

import logging

from billing import webhooks
from billing.models import Purchase
from billing.payments.interface import PermanentPaymentError
from billing.payments.providers import provider_named
from billing.purchases import fulfilment
from billing.topups import cards

logger = logging.getLogger(__name__)


def session_with_receipt(session: dict) -> dict:
    """A paid session with its invoice, charge and card expanded by the purchase's
    provider. When the provider does not answer, the PaymentError is raised: the event is
    not marked processed, and Stripe's redelivery fulfils it with the receipt and card
    (granting without them would lose the card for good). A permanent refusal (the
    session unknown to the key) cannot change on redelivery: the embedded session is
    used. Setup sessions are auto-topup's (billing/topups/webhook_handlers.py)."""
    if session.get("mode") == "setup" or session.get("payment_status") != "paid":
        return session
    purchase = Purchase.objects.filter(stripe_checkout_session_id=session.get("id")).first()
    if purchase is None:
        return session
    try:
        expanded = provider_named(purchase.provider).retrieve_checkout_session(
            session_id=session["id"])
    except PermanentPaymentError as error:
        logger.warning("receipt details for %s refused: %s", session.get("id"), error)
        return session
    return session if expanded is None else expanded


def _fulfil_and_keep_card(session: dict) -> None:
    result = fulfilment.fulfil_checkout_session(session=session)
    if result.purchase is not None and session.get("payment_status") == "paid":
        cards.save_card_from_session(session, organization=result.purchase.organization)


@webhooks.handler("checkout.session.completed", expand=session_with_receipt)
def session_completed(session: dict) -> None:
    if session.get("mode") == "setup":  # a card added for auto-topup: not a purchase
        return
    _fulfil_and_keep_card(session)  # unpaid: waits for async_payment_*


@webhooks.handler("checkout.session.async_payment_succeeded", expand=session_with_receipt)
def session_async_succeeded(session: dict) -> None:
    _fulfil_and_keep_card(session)


@webhooks.handler("checkout.session.async_payment_failed")
def session_async_failed(session: dict) -> None:
    fulfilment.mark_failed(session=session)


@webhooks.handler("checkout.session.expired")
def session_expired(session: dict) -> None:
    fulfilment.mark_expired(session=session)
