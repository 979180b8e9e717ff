"""The payment provider port: what purchases, auto-topup and the saved card ask of a provider.

Two adapters implement it: `stripe_provider.py` and the local test provider
(`local_provider.py`); `providers.py` picks one. Objects come back in Stripe's
shape (plain dicts), because webhook events carry the same objects and one
code path reads both (docs/stripe.md).
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

StripeObject = dict[str, Any]  # a session, PaymentIntent, charge or refund, as Stripe shapes it

SETUP_PURPOSE = "auto_topup_card"  # metadata of our setup-mode sessions (saving a card)


class PaymentError(Exception):
    """The provider refused or could not be reached; the message is fit to show an admin.
    Raised as such (not a subclass below): the provider did not answer, or answered with
    a transient error (5xx, rate limit, lock timeout); the same request may be sent again."""


class PermanentPaymentError(PaymentError):
    """The provider refused the request as made (invalid request, a missing resource such
    as a detached card, a key without permission or not valid): sending it again fails the
    same way. `remedy` says what the org's admins must do."""

    def __init__(self, message: str, *, remedy: str):
        super().__init__(message)
        self.remedy = remedy


def object_id(value) -> str:
    """The id of a reference that may arrive as an id or as an expanded object."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


@dataclass(frozen=True)
class OpenedCheckout:
    session_id: str
    url: str  # where the buyer pays
    customer_id: str = ""  # the provider's customer, when it has one


@dataclass(frozen=True)
class RefundAnswer:
    refund: StripeObject
    # The charge as refunded, when the refund is final at once (no charge.refunded follows).
    refunded_charge: StripeObject | None = None


class Provider(ABC):
    """A payment provider. Never call its methods while a database transaction is open,
    except where `refunds_at_once` says the refund is applied in one."""

    name: str  # as recorded on purchases, attempts and cards (PaymentProvider)
    label: str  # as people read it in messages
    is_test: bool  # no money moves: pages say so
    refunds_at_once: bool  # a refund is final when asked: credits are taken back at once

    @abstractmethod
    def open_checkout(self, *, purchase, customer_email: str, success_url: str,
                      cancel_url: str) -> OpenedCheckout:
        """A payment page for a pending purchase."""

    @abstractmethod
    def retrieve_checkout_session(self, *, session_id: str) -> StripeObject | None:
        """The session with its invoice, charge and card expanded; None when the provider
        has nothing to add to what its own page already confirmed."""

    @abstractmethod
    def refund(self, *, purchase, amount_minor: int, idempotency_key: str,
               metadata: dict) -> RefundAnswer:
        """Refund part of a purchase's charge."""

    @abstractmethod
    def open_card_setup(self, *, organization, customer_email: str, currency: str,
                        success_url: str, cancel_url: str) -> str:
        """The URL of a page where an admin saves a card for auto-topup, nothing charged."""

    @abstractmethod
    def detach_payment_method(self, *, payment_method_id: str) -> None:
        """Forget a saved card on the provider's side."""

    @abstractmethod
    def send_off_session_charge(self, *, attempt, try_number: int,
                                resend: bool) -> StripeObject:
        """The PaymentIntent of one try of a topup attempt on its saved card, whatever its
        outcome. `resend`: the same try again after a dead worker or an unanswered send
        (same idempotency key). Raises PermanentPaymentError when the charge cannot be made
        as asked, PaymentError when there is no answer to read (send it again later)."""
