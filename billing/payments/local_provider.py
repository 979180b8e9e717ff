"""The local test payment provider: Stripe-shaped sessions and charges, no network.

The demo and the test suite pay through it; its sessions and refunds run
through the very same fulfilment and refund code as Stripe's. With DEBUG off
it is refused unless ALLOW_TEST_PAYMENTS=True (config/settings.py). Its pages
(test checkout, test card) are the portal's.
"""

import secrets

from django.conf import settings
from django.urls import reverse

from billing.models import PaymentProvider, Purchase
from billing.payments.interface import (
    OpenedCheckout,
    PaymentError,
    Provider,
    RefundAnswer,
    StripeObject,
)

LOCAL_SESSION_PREFIX = "cs_local_"


def local_checkout_session(purchase: Purchase, *, paid: bool = True) -> dict:
    """The session-shaped dict Stripe would send, for the local test provider."""
    if purchase.provider != PaymentProvider.TEST:
        raise PaymentError("only test-provider purchases can be paid on the test page")
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
    if payment_method_id not in TEST_CARDS:
        raise ValueError(f"unknown test card {payment_method_id!r}")
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


class LocalProvider(Provider):
    name = PaymentProvider.TEST
    label = "test"
    is_test = True
    refunds_at_once = True  # no Stripe to confirm later: the refund is applied when asked

    def open_checkout(self, *, purchase, customer_email: str, success_url: str,
                      cancel_url: str) -> OpenedCheckout:
        url = reverse("test_checkout", kwargs={"slug": purchase.organization.slug,
                                               "purchase_id": purchase.pk})
        return OpenedCheckout(session_id=new_session_id(purchase), url=url)

    def retrieve_checkout_session(self, *, session_id: str) -> None:
        return None  # the local page fulfils as it pays: nothing more to read

    def refund(self, *, purchase, amount_minor: int, idempotency_key: str,
               metadata: dict) -> RefundAnswer:
        charge = refunded_charge(purchase, amount_minor=amount_minor, metadata=metadata)
        return RefundAnswer(refund=refund_of(purchase, charge=charge, amount_minor=amount_minor),
                            refunded_charge=charge)

    def open_card_setup(self, *, organization, customer_email: str, currency: str,
                        success_url: str, cancel_url: str) -> str:
        return reverse("test_card_setup", kwargs={"slug": organization.slug})

    def detach_payment_method(self, *, payment_method_id: str) -> None:
        return None  # nothing kept on a provider's side

    def send_off_session_charge(self, *, attempt, try_number: int,
                                resend: bool) -> StripeObject:
        if settings.PAYMENTS_PROVIDER != self.name:  # payments are live: never free credits
            return {"id": "", "status": "requires_payment_method",
                    "metadata": {"topup_attempt_id": str(attempt.pk), "try": str(try_number)},
                    "last_payment_error": {"message": "A test card cannot be charged: "
                                                      "payments are live. Save a real card."}}
        return off_session_intent(attempt=attempt, try_number=try_number)
