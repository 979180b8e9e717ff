"""The local test payment provider: Stripe-shaped sessions and charges, no network.

The demo and the test suite pay through it; its sessions and refunds run
through the very same fulfilment and refund code as Stripe's. With DEBUG off
it is refused unless ALLOW_TEST_PAYMENTS=True (config/settings.py).
"""

import secrets

from billing.models import PaymentProvider, Purchase
from billing.purchases.errors import PurchaseError

LOCAL_SESSION_PREFIX = "cs_local_"


def local_checkout_session(purchase: Purchase, *, paid: bool = True) -> dict:
    """The session-shaped dict Stripe would send, for the local test provider."""
    if purchase.provider != PaymentProvider.TEST:
        raise PurchaseError("only test-provider purchases can be paid on the test page")
    return {
        "id": purchase.stripe_checkout_session_id,
        "object": "checkout.session",
        "mode": "payment",
        "status": "complete" if paid else "expired",
        "payment_status": "paid" if paid else "unpaid",
        "amount_total": purchase.price_minor,
        "currency": purchase.currency,
        "client_reference_id": str(purchase.pk),
        "metadata": {"purchase_id": str(purchase.pk),
                     "organization": purchase.organization.slug},
        "payment_intent": f"pi_local_{purchase.pk}" if paid else None,
        "customer": None,
        "invoice": None,
    }


def new_session_id(purchase: Purchase) -> str:
    return f"{LOCAL_SESSION_PREFIX}{purchase.pk}_{secrets.token_hex(6)}"


def refunded_charge(purchase: Purchase, *, amount_minor: int, metadata: dict) -> dict:
    """The charge.refunded object Stripe would send after refunding `amount_minor` more."""
    return {
        "id": purchase.stripe_charge_id or f"ch_local_{purchase.pk}",
        "object": "charge", "payment_intent": purchase.stripe_payment_intent_id,
        "amount": purchase.amount_paid_minor,
        "amount_refunded": purchase.amount_refunded_minor + amount_minor,
        "metadata": metadata,
    }


def refund_of(purchase: Purchase, *, charge: dict, amount_minor: int) -> dict:
    """The Refund object Stripe would answer with."""
    return {"id": f"re_local_{purchase.pk}_{charge['amount_refunded']}", "amount": amount_minor,
            "status": "succeeded"}


# -- saved test cards and off-session charges (auto-topup in the demo) --------------------------

TEST_CARDS = {  # payment method id -> (brand, last4, what an off-session charge does)
    "pm_local_visa_ok": ("visa", "4242", "succeeds"),
    "pm_local_visa_declined": ("visa", "0002", "declined"),
}
DEFAULT_TEST_CARD = "pm_local_visa_ok"


def test_card_details(payment_method_id: str) -> dict:
    """A payment-method-shaped dict for a test card, as Stripe would expand it."""
    brand, last4, _ = TEST_CARDS[payment_method_id]
    return {"id": payment_method_id, "object": "payment_method", "type": "card",
            "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034}}


def off_session_intent(*, attempt, try_number: int) -> dict:
    """The PaymentIntent Stripe would answer for one try of a topup with a test card."""
    outcome = TEST_CARDS.get(attempt.payment_method_id, ("", "", "declined"))[2]
    intent = {
        "id": f"pi_local_topup_{attempt.pk}_{try_number}", "object": "payment_intent",
        "amount": attempt.amount_minor, "currency": attempt.currency,
        "payment_method": attempt.payment_method_id,
        "metadata": {"topup_attempt_id": str(attempt.pk), "try": str(try_number)},
    }
    if outcome == "succeeds":
        return {**intent, "status": "succeeded"}
    return {**intent, "status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "message": "Your card was declined."}}
