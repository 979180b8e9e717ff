"""Purchases of credit packages: start, fulfil, fail, expire, refund.

Credits move only when the payment provider confirms money moved. Fulfilment
is keyed on the Checkout Session id and runs under the Purchase row lock, then
the account lock (always in that order), so any number of deliveries in any
order grant exactly once. Calls to Stripe happen before or after, never inside,
a transaction.
"""

import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing import money
from billing.ledger.book import Actor, open_book
from billing.models import (
    CreditGrant,
    CreditPackage,
    EntryKind,
    GrantKind,
    PaymentProvider,
    Purchase,
    PurchaseStatus,
    StripeCustomer,
)
from billing.models.purchases import FULFILLED_STATUSES, minor_to_major
from billing.stripe import gateway as stripe_gateway

logger = logging.getLogger(__name__)

LOCAL_SESSION_PREFIX = "cs_local_"


class PurchaseError(Exception):
    """A purchase request or payment notification we cannot act on; nothing was changed."""


@dataclass
class Fulfilment:
    purchase: Purchase | None  # None: the session is not one of ours
    granted: bool  # False when an earlier delivery already granted (or nothing was paid)


# -- helpers -----------------------------------------------------------------------------------

def _id(value) -> str:
    """A Stripe reference that may be an id or an expanded object."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def _major(amount_minor: int, currency: str) -> str:
    return str(minor_to_major(amount_minor, currency))


def _receipt_details(session: dict) -> dict:
    """Receipt link and charge id, when the session came with them expanded."""
    details = {}
    invoice = session.get("invoice")
    if invoice:
        details["stripe_invoice_id"] = _id(invoice)
    if isinstance(invoice, dict) and invoice.get("hosted_invoice_url"):
        details["receipt_url"] = invoice["hosted_invoice_url"]
    intent = session.get("payment_intent")
    charge = intent.get("latest_charge") if isinstance(intent, dict) else None
    if charge:
        details["stripe_charge_id"] = _id(charge)
        if isinstance(charge, dict) and charge.get("receipt_url") and "receipt_url" not in details:
            details["receipt_url"] = charge["receipt_url"]
    return details


def _purchase_id_of(session: dict) -> int | None:
    """Our purchase id from the metadata we set; client_reference_id alone is not trusted,
    since another product on the same Stripe account may use numeric references too."""
    raw = (session.get("metadata") or {}).get("purchase_id")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _locked_purchase_for_session(session: dict) -> Purchase | None:
    """The purchase a session pays for, locked; None when the session is not one of ours
    (another product on the same Stripe account), which is logged and left alone."""
    session_id = session.get("id") or ""
    purchase = (Purchase.objects.select_for_update()
                .filter(stripe_checkout_session_id=session_id).first())
    if purchase is not None:
        return purchase
    # A webhook can beat the redirect that stored the session id on the row.
    purchase_id = _purchase_id_of(session)
    organization_slug = (session.get("metadata") or {}).get("organization")
    purchase = (Purchase.objects.select_for_update(of=("self",))
                .filter(pk=purchase_id, organization__slug=organization_slug).first()
                if purchase_id and organization_slug else None)
    if purchase is None:
        logger.warning("Checkout Session %s is not one of our purchases: ignored", session_id)
        return None
    if purchase.stripe_checkout_session_id not in (None, "", session_id):
        logger.error("Checkout Session %s names purchase %s, which belongs to session %s: "
                     "ignored", session_id, purchase.pk, purchase.stripe_checkout_session_id)
        return None
    purchase.stripe_checkout_session_id = session_id
    return purchase


def _save(purchase: Purchase, *fields: str) -> None:
    purchase.updated_at = timezone.now()
    purchase.save(update_fields=[*fields, "updated_at"])


# -- starting ----------------------------------------------------------------------------------

def _create_pending(*, organization, package: CreditPackage, buyer, provider: str) -> Purchase:
    if not organization.billing_enabled:
        raise PurchaseError(
            "Credits billing is included in the Professional and Enterprise plans only.")
    if not package.active:
        raise PurchaseError(f"The package {package.name!r} is no longer on sale.")
    return Purchase.objects.create(
        organization=organization, package=package, package_name=package.name,
        base_credits=package.base_credits, bonus_credits=package.bonus_credits,
        price_minor=package.price_minor, currency=package.currency, buyer=buyer,
        provider=provider,
    )


def ensure_stripe_customer(*, organization, email: str = "") -> str:
    """The org's Stripe Customer id, created at most once (the key is derived from the org)."""
    existing = StripeCustomer.objects.filter(organization=organization).first()
    if existing:
        return existing.customer_id
    customer = stripe_gateway.create_customer(organization=organization, email=email)
    row, _ = StripeCustomer.objects.get_or_create(
        organization=organization, defaults={"customer_id": customer["id"]}
    )
    return row.customer_id


def _portal_url(name: str, purchase: Purchase) -> str:
    path = reverse(name, kwargs={"slug": purchase.organization.slug, "purchase_id": purchase.pk})
    return f"{settings.SITE_URL}{path}"


def start_purchase(*, organization, package: CreditPackage, buyer,
                   provider: str | None = None) -> Purchase:
    """A pending purchase with its checkout opened; redirect the buyer to `checkout_url`.

    Raises PurchaseError (nothing created) or PaymentError (the purchase is kept,
    marked failed, with Stripe's message).
    """
    provider = provider or settings.PAYMENTS_PROVIDER
    purchase = _create_pending(organization=organization, package=package, buyer=buyer,
                               provider=provider)
    if provider == PaymentProvider.TEST:
        purchase.stripe_checkout_session_id = (
            f"{LOCAL_SESSION_PREFIX}{purchase.pk}_{secrets.token_hex(6)}")
        purchase.checkout_url = reverse("test_checkout", kwargs={
            "slug": organization.slug, "purchase_id": purchase.pk})
        _save(purchase, "stripe_checkout_session_id", "checkout_url")
        return purchase
    try:
        customer_id = ensure_stripe_customer(organization=organization,
                                             email=getattr(buyer, "email", ""))
        session = stripe_gateway.create_checkout_session(
            purchase=purchase, customer_id=customer_id,
            success_url=_portal_url("purchase_success", purchase)
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=_portal_url("purchase_cancel", purchase),
        )
    except Exception as error:  # never leave a pending purchase nobody can pay
        purchase.status = PurchaseStatus.FAILED
        purchase.failure_reason = (str(error) if isinstance(error, stripe_gateway.PaymentError)
                                   else "Checkout could not be opened.")[:500]
        _save(purchase, "status", "failure_reason")
        raise
    purchase.stripe_checkout_session_id = session["id"]
    purchase.checkout_url = session.get("url") or ""
    purchase.stripe_customer_id = customer_id
    _save(purchase, "stripe_checkout_session_id", "checkout_url", "stripe_customer_id")
    return purchase


# -- fulfilment --------------------------------------------------------------------------------

def _check_amount(purchase: Purchase, session: dict) -> None:
    total, currency = session.get("amount_total"), (session.get("currency") or "").lower()
    if total is not None and int(total) != purchase.price_minor:
        raise PurchaseError(f"purchase {purchase.pk}: session paid {total}, price is "
                            f"{purchase.price_minor}")
    if currency and currency != purchase.currency:
        raise PurchaseError(f"purchase {purchase.pk}: session paid in {currency}, price is in "
                            f"{purchase.currency}")


def _grant_from(posting) -> CreditGrant:
    if posting.grant is not None:
        return posting.grant
    return CreditGrant.objects.get(pk=posting.entry.metadata["grant_id"])


def fulfil_checkout_session(*, session: dict) -> Fulfilment:
    """Grant a paid session's credits exactly once: a paid grant and a linked bonus grant."""
    if session.get("payment_status") != "paid":
        with transaction.atomic():  # only to find (and remember) the purchase
            purchase = _locked_purchase_for_session(session)
            if purchase is not None:
                _save(purchase, "stripe_checkout_session_id")
        return Fulfilment(purchase=purchase, granted=False)  # async payment still to come
    session_id = session["id"]
    with transaction.atomic():
        purchase = _locked_purchase_for_session(session)
        if purchase is None:
            return Fulfilment(purchase=None, granted=False)
        if purchase.is_fulfilled:
            details = {k: v for k, v in _receipt_details(session).items()
                       if not getattr(purchase, k)}
            if details:
                for name, value in details.items():
                    setattr(purchase, name, value)
                _save(purchase, *details)
            return Fulfilment(purchase=purchase, granted=False)
        _check_amount(purchase, session)
        if purchase.status != PurchaseStatus.PENDING:
            # Money moved: that outranks an earlier failed/expired mark on our side.
            logger.warning("purchase %s was %s but its session is paid", purchase.pk,
                           purchase.status)
        amount_paid = int(session.get("amount_total") or purchase.price_minor)
        intent_id = _id(session.get("payment_intent"))
        metadata = {
            "purchase_id": purchase.pk,
            "package": purchase.package_name,
            "amount_paid": _major(amount_paid, purchase.currency),
            "currency": purchase.currency,
            "provider": purchase.provider,
            "checkout_session": session_id,
            "payment_intent": intent_id,
            "customer": _id(session.get("customer")),
        }
        actor = Actor.user(purchase.buyer) if purchase.buyer else Actor.system("checkout")
        with open_book(organization=purchase.organization) as book:
            paid = book.grant(
                amount=purchase.base_credits, grant_kind=GrantKind.PAID,
                entry_kind=EntryKind.PURCHASE, actor=actor,
                reason=f"Purchase of {purchase.package_name}",
                idempotency_key=f"checkout:{session_id}", metadata=metadata,
            )
            bonus = None
            if purchase.bonus_credits > 0:
                bonus = book.grant(
                    amount=purchase.bonus_credits, grant_kind=GrantKind.BONUS,
                    entry_kind=EntryKind.BONUS, actor=actor,
                    reason=f"Bonus with {purchase.package_name}",
                    idempotency_key=f"checkout:{session_id}:bonus",
                    parent=_grant_from(paid), metadata=metadata,
                )
        purchase.entry = paid.entry
        purchase.paid_grant = _grant_from(paid)
        if bonus is not None:
            purchase.bonus_entry = bonus.entry
            purchase.bonus_grant = _grant_from(bonus)
        purchase.status = PurchaseStatus.PAID
        purchase.paid_at = timezone.now()
        purchase.amount_paid_minor = amount_paid
        purchase.stripe_payment_intent_id = intent_id
        purchase.stripe_customer_id = purchase.stripe_customer_id or metadata["customer"]
        purchase.failure_reason = ""
        for name, value in _receipt_details(session).items():
            setattr(purchase, name, value)
        purchase.updated_at = timezone.now()
        purchase.save()
    return Fulfilment(purchase=purchase, granted=not paid.replayed)


def _mark(session: dict, status: str, reason: str) -> Purchase | None:
    with transaction.atomic():
        purchase = _locked_purchase_for_session(session)
        if purchase is not None and purchase.status == PurchaseStatus.PENDING:
            purchase.status = status
            purchase.failure_reason = reason
            _save(purchase, "status", "failure_reason", "stripe_checkout_session_id")
        return purchase


def mark_failed(*, session: dict) -> Purchase | None:
    """The delayed payment failed: nothing is granted. A paid purchase is left alone."""
    return _mark(session, PurchaseStatus.FAILED, "The payment failed.")


def mark_expired(*, session: dict) -> Purchase | None:
    """Checkout was abandoned or cancelled: nothing is granted."""
    return _mark(session, PurchaseStatus.EXPIRED, "Checkout expired without payment.")


# -- the test provider -------------------------------------------------------------------------

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


# -- refunds -----------------------------------------------------------------------------------

def _locked_purchase_for_charge(charge: dict) -> Purchase | None:
    intent_id = _id(charge.get("payment_intent"))
    query = Purchase.objects.select_for_update()
    purchase = query.filter(stripe_payment_intent_id=intent_id).first() if intent_id else None
    if purchase is None and charge.get("id"):
        purchase = query.filter(stripe_charge_id=charge["id"]).first()
    if purchase is None:
        # Stripe copies the PaymentIntent's metadata (ours: purchase_id) onto its charges.
        purchase_id = (charge.get("metadata") or {}).get("purchase_id")
        if purchase_id and str(purchase_id).isdigit():
            purchase = query.filter(pk=int(purchase_id)).first()
    return purchase


def credits_to_take_back(*, purchase: Purchase, cumulative_refunded_minor: int) -> Decimal:
    """Invariant 6: r = newly refunded / paid; take r x (base + bonus), rounded once.

    The refund that brings the total to the amount paid takes exactly what is
    left, so cumulative refunds never take back more than the purchase granted.
    """
    paid = purchase.amount_paid_minor or purchase.price_minor
    left = purchase.total_credits - purchase.credits_refunded
    if cumulative_refunded_minor >= paid:
        return left
    newly = cumulative_refunded_minor - purchase.amount_refunded_minor
    share = money.round_credits(purchase.total_credits * Decimal(newly) / Decimal(paid))
    return min(share, left)


def apply_charge_refunded(*, charge: dict) -> Purchase | None:
    """Take back the credits of a refund Stripe confirmed. None when the charge is not a
    purchase's (e.g. an auto-topup charge)."""
    charge_id = charge.get("id") or ""
    cumulative = int(charge.get("amount_refunded") or 0)
    with transaction.atomic():
        purchase = _locked_purchase_for_charge(charge)
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
                    reason=f"Refund of {_major(newly, purchase.currency)} "
                           f"{purchase.currency.upper()} for {purchase.package_name}",
                    idempotency_key=f"refund:{charge_id}:{cumulative}",
                    preferred_grants=[g for g in (purchase.paid_grant, purchase.bonus_grant) if g],
                    metadata={
                        "purchase_id": purchase.pk,
                        "charge": charge_id,
                        "amount_refunded": _major(newly, purchase.currency),
                        "amount_refunded_total": _major(cumulative, purchase.currency),
                        "currency": purchase.currency,
                    },
                )
        purchase.amount_refunded_minor = cumulative
        purchase.credits_refunded += take
        purchase.stripe_charge_id = purchase.stripe_charge_id or charge_id
        purchase.status = (PurchaseStatus.REFUNDED if cumulative >= paid
                           else PurchaseStatus.PARTIALLY_REFUNDED)
        _save(purchase, "amount_refunded_minor", "credits_refunded", "stripe_charge_id", "status")
    return purchase


def request_refund(*, purchase: Purchase, amount_minor: int | None, requested_by,
                   request_id: str | None = None) -> dict:
    """Staff: ask the provider to refund (all that is left when amount is None).

    With Stripe, credits move when charge.refunded arrives. The test provider has
    no Stripe, so the same refund code runs at once on a charge-shaped dict.
    """
    purchase.refresh_from_db()
    if purchase.status not in FULFILLED_STATUSES:
        raise PurchaseError(f"purchase {purchase.pk} is {purchase.get_status_display()}: "
                            "only paid purchases can be refunded")
    refundable = purchase.refundable_minor
    amount = refundable if amount_minor is None else int(amount_minor)
    if refundable <= 0:
        raise PurchaseError(f"purchase {purchase.pk} is already refunded in full")
    if not 0 < amount <= refundable:
        raise PurchaseError(
            f"the refund must be between {_major(1, purchase.currency)} and "
            f"{_major(refundable, purchase.currency)} {purchase.currency.upper()}")
    metadata = {"purchase_id": str(purchase.pk), "requested_by": requested_by.email}
    if purchase.provider == PaymentProvider.TEST:
        charge = {
            "id": purchase.stripe_charge_id or f"ch_local_{purchase.pk}",
            "object": "charge", "payment_intent": purchase.stripe_payment_intent_id,
            "amount": purchase.amount_paid_minor,
            "amount_refunded": purchase.amount_refunded_minor + amount,
            "metadata": metadata,
        }
        apply_charge_refunded(charge=charge)
        return {"id": f"re_local_{purchase.pk}_{charge['amount_refunded']}", "amount": amount,
                "status": "succeeded"}
    if not purchase.stripe_payment_intent_id:
        raise PurchaseError(f"purchase {purchase.pk} has no PaymentIntent to refund")
    # A form's own request id makes a double submit refund once, while two deliberate
    # refunds of the same amount (before Stripe confirms the first) stay two. Without
    # one (the "refund in full" action), the key derives from the refunded total so far.
    key = (f"purchase-{purchase.pk}-refund-{request_id}" if request_id else
           f"purchase-{purchase.pk}-refund-{purchase.amount_refunded_minor}-{amount}")
    return stripe_gateway.create_refund(
        payment_intent_id=purchase.stripe_payment_intent_id, amount_minor=amount,
        idempotency_key=key, metadata=metadata,
    )
