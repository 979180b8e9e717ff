"""The Stripe adapter of the payments port: every call to Stripe, the only `import stripe`.

A `StripeClient` is built from settings on each call (so tests can point
STRIPE_API_BASE at a local stub), with the API version pinned here rather than
whatever the installed library defaults to. Every write carries an idempotency
key derived from our own rows, so a retried request never pays or refunds twice.
Results come back as plain dicts; Stripe errors come back as PaymentError.
`StripeProvider` is the port's face of these functions (interface.py).

Never call these functions while a database transaction is open.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import TYPE_CHECKING

from django.conf import settings

from billing.models import PaymentProvider, StripeCustomer
from billing.payments.interface import (
    SETUP_PURPOSE,
    OpenedCheckout,
    PaymentError,
    PermanentPaymentError,
    Provider,
    RefundAnswer,
    StripeObject,
)

if TYPE_CHECKING:
    import stripe

logger = logging.getLogger(__name__)

# Pinned: payloads (webhooks included) are read with this version's shapes.
API_VERSION = "2026-10-28.endive"
WEBHOOK_TOLERANCE_SECONDS = 300
NETWORK_RETRIES = 2  # safe: every write has an idempotency key


def stripe_library():
    """The stripe package, imported on first use rather than with this module: it loads
    three HTTP clients (about 0.4 s of a process start here), which the demo, the local
    provider and the operator commands that never talk to Stripe do not need. A web
    process imports it before its first request (config/wsgi.py)."""
    import stripe

    return stripe


class InvalidSignature(Exception):
    """A webhook body that Stripe did not sign (or signed too long ago)."""


def _client() -> stripe.StripeClient:
    stripe = stripe_library()
    if not settings.STRIPE_SECRET_KEY:
        raise PaymentError("Stripe is not configured: STRIPE_SECRET_KEY is empty.")
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        stripe_version=API_VERSION,
        base_addresses=base,
        max_network_retries=NETWORK_RETRIES,
    )


def _message(error: stripe.StripeError) -> str:
    stripe = stripe_library()
    text = error.user_message or getattr(error, "_message", None) or type(error).__name__
    if isinstance(error, stripe.APIConnectionError):
        return f"Could not reach Stripe, please try again in a minute. ({text})"
    if isinstance(error, stripe.AuthenticationError):
        return "Stripe rejected our API key: ask staff to check STRIPE_SECRET_KEY."
    if isinstance(error, stripe.RateLimitError):
        return "Stripe is busy (rate limited); please try again in a minute."
    request_id = f" (Stripe request {error.request_id})" if error.request_id else ""
    return f"Stripe error: {text}{request_id}"


# Stripe's error classes (docs/stripe.md, "Errors"): what an admin must do about each
# permanent one; everything else that is not a card decline is worth sending again.
KEY_REMEDY = ("Stripe refused our API key for this charge: staff must give the restricted "
              "key the permissions in docs/stripe.md (or fix STRIPE_SECRET_KEY).")
CARD_REMEDY = ("Stripe cannot charge the saved card as asked (it may have been removed): "
               "save a new card, then turn auto-topup on again.")
TRANSIENT_CODES = frozenset({"lock_timeout", "rate_limit"})


def classified(error: stripe.StripeError) -> PaymentError:
    """A Stripe error as the port's PaymentError: permanent or worth sending again."""
    stripe = stripe_library()
    if getattr(error, "code", None) in TRANSIENT_CODES:
        return PaymentError(_message(error))
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return PermanentPaymentError(_message(error), remedy=KEY_REMEDY)
    if isinstance(error, stripe.InvalidRequestError | stripe.IdempotencyError
                  | stripe.CardError):
        return PermanentPaymentError(_message(error), remedy=CARD_REMEDY)
    return PaymentError(_message(error))  # connection, 5xx, rate limit


def _call(what: str, fn, *args, **kwargs) -> dict:
    stripe = stripe_library()
    try:
        result = fn(*args, **kwargs)
    except stripe.StripeError as error:
        logger.warning("Stripe %s failed: %s", what, error)
        raise classified(error) from error
    return result.to_dict()


def _options(idempotency_key: str | None = None) -> dict:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


# -- customers ---------------------------------------------------------------------------------

def create_customer(*, organization, email: str = "") -> dict:
    """One Customer per org: the key is derived from the org, so a retry returns the same one."""
    params = {
        "name": organization.name,
        "metadata": {"organization": organization.slug, "organization_id": str(organization.pk)},
    }
    if email:
        params["email"] = email
    return _call("customer create", _client().v1.customers.create, params,
                 _options(f"org-{organization.pk}-customer"))


def ensure_customer(*, organization, email: str = "") -> str:
    """The org's Stripe Customer id, created at most once (the key is derived from the org)."""
    existing = StripeCustomer.objects.filter(organization=organization).first()
    if existing:
        return existing.customer_id
    customer = create_customer(organization=organization, email=email)
    row, _ = StripeCustomer.objects.get_or_create(
        organization=organization, defaults={"customer_id": customer["id"]}
    )
    return row.customer_id


# -- Checkout ----------------------------------------------------------------------------------

def create_checkout_session(*, purchase, customer_id: str, success_url: str,
                            cancel_url: str) -> dict:
    metadata = {
        "purchase_id": str(purchase.pk),
        "organization": purchase.organization.slug,
    }
    credits = f"{purchase.base_credits.normalize():f} credits"
    if purchase.bonus_credits:
        credits += f" + {purchase.bonus_credits.normalize():f} bonus"
    params = {
        "mode": "payment",
        "line_items": [{
            "quantity": 1,
            "price_data": {
                "currency": purchase.currency,
                "unit_amount": purchase.price_minor,
                "product_data": {"name": purchase.package_name, "description": credits},
            },
        }],
        "client_reference_id": str(purchase.pk),
        "metadata": metadata,
        "customer": customer_id,
        # Saved for later off-session charges (auto-topup).
        "payment_intent_data": {"setup_future_usage": "off_session", "metadata": metadata},
        # The invoice is the customer's receipt.
        "invoice_creation": {"enabled": True, "invoice_data": {"metadata": metadata}},
        "success_url": success_url,
        "cancel_url": cancel_url,
        **_seller_options(),
    }
    return _call("checkout session create", _client().v1.checkout.sessions.create, params,
                 _options(f"purchase-{purchase.pk}-checkout"))


def retrieve_checkout_session(session_id: str) -> dict:
    """The session with its invoice, charge and card expanded (receipt links, saved card)."""
    return _call("checkout session retrieve", _client().v1.checkout.sessions.retrieve,
                 session_id, {"expand": ["invoice", "payment_intent.latest_charge",
                                         "payment_intent.payment_method",
                                         "setup_intent.payment_method"]})


def _seller_options() -> dict:
    """Promotion codes and Stripe Tax, as settings say (docs/stripe.md)."""
    options = {}
    if settings.STRIPE_ALLOW_PROMOTION_CODES:
        options["allow_promotion_codes"] = True
    if settings.STRIPE_AUTOMATIC_TAX:
        options.update({
            "automatic_tax": {"enabled": True},
            "billing_address_collection": "required",
            "tax_id_collection": {"enabled": True},
            # Tax needs the address on the Customer we pass; Checkout keeps it there.
            "customer_update": {"address": "auto", "name": "auto"},
        })
    return options


def create_setup_session(*, organization, customer_id: str, request_id: str,
                         success_url: str, cancel_url: str, currency: str = "usd") -> dict:
    """A Checkout Session in setup mode: the admin enters a card, nothing is charged."""
    metadata = {"organization": organization.slug, "purpose": SETUP_PURPOSE}
    params = {
        "mode": "setup",
        "currency": currency,
        "customer": customer_id,
        "metadata": metadata,
        "setup_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    return _call("setup session create", _client().v1.checkout.sessions.create, params,
                 _options(f"org-{organization.pk}-card-setup-{request_id}"))


def detach_payment_method(payment_method_id: str) -> dict:
    return _call("payment method detach", _client().v1.payment_methods.detach,
                 payment_method_id)


# -- off-session charges (auto-topup) ----------------------------------------------------------

def charge_off_session(*, attempt, try_number: int) -> dict:
    """One try of a topup attempt: a confirmed off-session PaymentIntent on the saved card.

    Returns the PaymentIntent as a dict whatever its outcome: a decline or a card that
    needs authentication comes back as the intent Stripe attached to the card error
    (status requires_payment_method or requires_action). Raises PermanentPaymentError
    when Stripe refuses the request as made (the try fails at once), PaymentError when
    there is no answer (the try stays unsettled and is sent again with the same key,
    which Stripe replays, after a growing backoff).
    """
    stripe = stripe_library()
    params = {
        "amount": attempt.amount_minor,
        "currency": attempt.currency,
        "customer": attempt.customer_id,
        "payment_method": attempt.payment_method_id,
        "off_session": True,
        "confirm": True,
        "description": f"Auto-topup: {attempt.package_name} x{attempt.units}",
        "metadata": {"topup_attempt_id": str(attempt.pk), "try": str(try_number),
                     "organization": attempt.organization.slug},
    }
    try:
        intent = _client().v1.payment_intents.create(
            params, _options(attempt.key_for_try(try_number)))
    except stripe.CardError as error:
        body = (error.json_body or {}).get("error") or {}
        if isinstance(body.get("payment_intent"), dict):
            intent = dict(body["payment_intent"])
            intent.setdefault("last_payment_error", {"message": body.get("message", ""),
                                                     "code": body.get("code", "")})
            return intent
        raise classified(error) from error
    except stripe.StripeError as error:
        logger.warning("Stripe topup charge failed: %s", error)
        raise classified(error) from error
    return intent.to_dict()


def retrieve_payment_intent(payment_intent_id: str) -> dict:
    return _call("payment intent retrieve", _client().v1.payment_intents.retrieve,
                 payment_intent_id)


# -- refunds -----------------------------------------------------------------------------------

def create_refund(*, payment_intent_id: str, amount_minor: int, idempotency_key: str,
                  metadata: dict) -> dict:
    params = {"payment_intent": payment_intent_id, "amount": amount_minor, "metadata": metadata}
    return _call("refund create", _client().v1.refunds.create, params,
                 _options(idempotency_key))


# -- webhooks ----------------------------------------------------------------------------------

def set_up_webhook_endpoint(*, url: str, events: list[str]) -> tuple[dict, str, list[str]]:
    """The endpoint at `url` sending exactly `events` with our API version: updated when
    one with that version exists (Stripe cannot change an endpoint's version), created
    otherwise. Returns the endpoint, what was done ("created": its `secret` is in it, shown
    only now; or "updated"), and the ids of endpoints at `url` with another version."""
    endpoints = _client().v1.webhook_endpoints
    listed = _call("webhook endpoint list", endpoints.list, {"limit": 100})
    at_url = [e for e in listed.get("data") or [] if e.get("url") == url]
    same = [e for e in at_url if e.get("api_version") == API_VERSION]
    others = [e["id"] for e in at_url if e.get("api_version") != API_VERSION]
    if same:
        return _call("webhook endpoint update", endpoints.update, same[0]["id"],
                     {"enabled_events": events, "disabled": False}), "updated", others
    return _call("webhook endpoint create", endpoints.create, {
        "url": url, "enabled_events": events, "api_version": API_VERSION,
        "description": "Credits billing (manage.py stripe_webhook_setup)"}), "created", others


def construct_event(payload: bytes, signature_header: str | None) -> dict:
    """The verified event as a dict. Checks the v1 HMAC over the raw body and its age."""
    stripe = stripe_library()
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise InvalidSignature("STRIPE_WEBHOOK_SECRET is not set")
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature_header, secret, WEBHOOK_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as error:
        raise InvalidSignature(str(error)) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidSignature(f"the body is not JSON: {error}") from None
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise InvalidSignature("the body is not a Stripe event")
    return event


# -- the port ----------------------------------------------------------------------------------

class StripeProvider(Provider):
    name = PaymentProvider.STRIPE
    label = "Stripe"
    is_test = False
    refunds_at_once = False  # credits move when charge.refunded arrives

    def open_checkout(self, *, purchase, customer_email: str, success_url: str,
                      cancel_url: str) -> OpenedCheckout:
        customer_id = ensure_customer(organization=purchase.organization, email=customer_email)
        session = create_checkout_session(purchase=purchase, customer_id=customer_id,
                                          success_url=success_url, cancel_url=cancel_url)
        return OpenedCheckout(session_id=session["id"], url=session.get("url") or "",
                              customer_id=customer_id)

    def retrieve_checkout_session(self, *, session_id: str) -> StripeObject:
        return retrieve_checkout_session(session_id)

    def refund(self, *, purchase, amount_minor: int, idempotency_key: str,
               metadata: dict) -> RefundAnswer:
        return RefundAnswer(refund=create_refund(
            payment_intent_id=purchase.stripe_payment_intent_id, amount_minor=amount_minor,
            idempotency_key=idempotency_key, metadata=metadata))

    def open_card_setup(self, *, organization, customer_email: str, currency: str,
                        success_url: str, cancel_url: str) -> str:
        customer_id = ensure_customer(organization=organization, email=customer_email)
        session = create_setup_session(
            organization=organization, customer_id=customer_id, request_id=secrets.token_hex(8),
            currency=currency, success_url=success_url, cancel_url=cancel_url)
        return session["url"]

    def detach_payment_method(self, *, payment_method_id: str) -> None:
        detach_payment_method(payment_method_id)

    def send_off_session_charge(self, *, attempt, try_number: int,
                                resend: bool) -> StripeObject:
        # A dead worker's try whose intent id was recorded is read back; else sent again
        # with the same key, which Stripe answers with the original intent.
        if resend and attempt.payment_intent_id:
            return retrieve_payment_intent(attempt.payment_intent_id)
        return charge_off_session(attempt=attempt, try_number=try_number)
