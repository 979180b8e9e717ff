"""The Stripe events auto-topup handles: its PaymentIntents, and the setup-mode Checkout
Session that saves a card. Registered with the webhook dispatcher when billing starts."""

import logging

from billing import webhooks
from billing.models import PaymentProvider
from billing.payments.interface import PermanentPaymentError
from billing.payments.providers import provider_named
from billing.topups import cards, settlement

logger = logging.getLogger(__name__)


def setup_session_with_card(session: dict) -> dict:
    """A completed setup session with its card expanded, read back from Stripe (whose
    events these are). When Stripe does not answer, the PaymentError is raised: the event
    is not marked processed, and Stripe's redelivery saves the card. A permanent refusal
    cannot change on redelivery: the embedded session is used (no card to save)."""
    if session.get("mode") != "setup" or session.get("status") != "complete":
        return session
    try:
        return provider_named(PaymentProvider.STRIPE).retrieve_checkout_session(
            session_id=session["id"])
    except PermanentPaymentError as error:
        logger.warning("card of setup session %s refused: %s", session.get("id"), error)
        return session


@webhooks.handler("checkout.session.completed", expand=setup_session_with_card)
def setup_session_completed(session: dict) -> None:
    if session.get("mode") == "setup":  # a card added for auto-topup
        cards.save_card_from_session(session)


@webhooks.handler("payment_intent.succeeded", "payment_intent.payment_failed")
def payment_intent(intent: dict) -> None:
    if settlement.attempt_id_of(intent) is not None:  # only topup attempts' intents
        settlement.settle_intent(intent=intent)
