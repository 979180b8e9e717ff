"""Fulfilment: credits for a paid Checkout Session, exactly once; failed and expired sessions.

Fulfilment is keyed on the Checkout Session id and runs under the Purchase row
lock, then the account lock (always in that order), so any number of
deliveries in any order grant exactly once. A session is paid when Stripe says
`paid`, or `no_payment_required` (a 100% discount). The package's credits are
granted when the session's subtotal, discount and tax explain its total; an
amount they do not explain holds the purchase for staff (purchases/held.py).
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from billing.ledger.actor import Actor
from billing.ledger.book import open_book
from billing.models import CreditGrant, EntryKind, GrantKind, Purchase, PurchaseStatus
from billing.models.purchases import major_text
from billing.payments.interface import object_id

logger = logging.getLogger(__name__)


@dataclass
class Fulfilment:
    purchase: Purchase | None  # None: the session is not one of ours
    granted: bool  # False when an earlier delivery already granted (or nothing was paid)


def _receipt_details(session: dict) -> dict:
    """Receipt link and charge id, when the session came with them expanded."""
    details = {}
    invoice = session.get("invoice")
    if invoice:
        details["stripe_invoice_id"] = object_id(invoice)
    if isinstance(invoice, dict) and invoice.get("hosted_invoice_url"):
        details["receipt_url"] = invoice["hosted_invoice_url"]
    intent = session.get("payment_intent")
    charge = intent.get("latest_charge") if isinstance(intent, dict) else None
    if charge:
        details["stripe_charge_id"] = object_id(charge)
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


def _lock_purchase_of_session(session: dict) -> Purchase | None:
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


def _amounts(session: dict) -> dict:
    """The session's total and what Checkout says makes it up, as Purchase fields."""
    details = session.get("total_details") or {}
    values = {"amount_paid_minor": session.get("amount_total"),
              "amount_subtotal_minor": session.get("amount_subtotal"),
              "amount_discount_minor": details.get("amount_discount"),
              "amount_tax_minor": details.get("amount_tax")}
    return {name: int(value) for name, value in values.items() if value is not None}


def unexplained(purchase: Purchase, session: dict) -> str:
    """Why the session's amount is not the package's price after discount and tax (tax
    exclusive or inclusive); empty when it is."""
    currency = (session.get("currency") or "").lower()
    if currency and currency != purchase.currency:
        return f"paid in {currency}, the price is in {purchase.currency}"
    amounts = _amounts(session)
    if "amount_paid_minor" not in amounts:
        return ""  # an older shape with no total: nothing to compare
    total = amounts["amount_paid_minor"]
    subtotal = amounts.get("amount_subtotal_minor", purchase.price_minor)
    discount, tax = amounts.get("amount_discount_minor", 0), amounts.get("amount_tax_minor", 0)
    if subtotal != purchase.price_minor:
        return f"subtotal {subtotal} is not the price {purchase.price_minor}"
    if total not in (subtotal - discount + tax, subtotal - discount):
        return (f"total {total} is not subtotal {subtotal} - discount {discount} "
                f"+ tax {tax}")
    return ""


def _grant_from(posting) -> CreditGrant:
    if posting.grant is not None:
        return posting.grant
    return CreditGrant.objects.get(pk=posting.entry.metadata["grant_id"])


PAID = frozenset({"paid", "no_payment_required"})


def fulfil_checkout_session(*, session: dict) -> Fulfilment:
    """Grant a paid session's credits exactly once: a paid grant and a linked bonus grant;
    or hold the purchase for staff when nothing explains its amount."""
    if session.get("payment_status") not in PAID:
        with transaction.atomic():  # only to find (and remember) the purchase
            purchase = _lock_purchase_of_session(session)
            if purchase is not None:
                purchase.save_fields("stripe_checkout_session_id")
        return Fulfilment(purchase=purchase, granted=False)  # async payment still to come
    with transaction.atomic():
        purchase = _lock_purchase_of_session(session)
        if purchase is None:
            return Fulfilment(purchase=None, granted=False)
        if purchase.is_fulfilled or purchase.status == PurchaseStatus.HELD:
            details = {k: v for k, v in _receipt_details(session).items()
                       if not getattr(purchase, k)}
            if details:
                for name, value in details.items():
                    setattr(purchase, name, value)
                purchase.save_fields(*details)
            return Fulfilment(purchase=purchase, granted=False)
        if purchase.status != PurchaseStatus.PENDING:
            # Money moved: that outranks an earlier failed/expired mark on our side.
            logger.warning("purchase %s was %s but its session is paid", purchase.pk,
                           purchase.status)
        for name, value in {**_amounts(session), **_receipt_details(session)}.items():
            setattr(purchase, name, value)
        if purchase.amount_paid_minor is None:  # an older shape with no total
            purchase.amount_paid_minor = purchase.price_minor
        purchase.stripe_payment_intent_id = object_id(session.get("payment_intent"))
        purchase.stripe_customer_id = (purchase.stripe_customer_id
                                       or object_id(session.get("customer")))
        purchase.paid_at = timezone.now()
        if why := unexplained(purchase, session):
            logger.warning("purchase %s held for staff: %s", purchase.pk, why)
            purchase.status, purchase.failure_reason = PurchaseStatus.HELD, f"Held: {why}"
            purchase.updated_at = timezone.now()
            purchase.save()
            return Fulfilment(purchase=purchase, granted=False)
        actor = Actor.user(purchase.buyer) if purchase.buyer else Actor.system("checkout")
        granted = grant_purchase(purchase, actor=actor)
    return Fulfilment(purchase=purchase, granted=granted)


def grant_purchase(purchase: Purchase, *, actor: Actor) -> bool:
    """Post the package's credits for a locked purchase whose payment is recorded on it
    (the session's, or staff releasing a held purchase): keyed on its session id."""
    session_id = purchase.stripe_checkout_session_id
    metadata = {
        "purchase_id": purchase.pk,
        "package": purchase.package_name,
        "amount_paid": major_text(purchase.amount_paid_minor, purchase.currency),
        "currency": purchase.currency,
        "provider": purchase.provider,
        "checkout_session": session_id,
        "payment_intent": purchase.stripe_payment_intent_id,
        "customer": purchase.stripe_customer_id,
    }
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
    purchase.failure_reason = ""
    purchase.updated_at = timezone.now()
    purchase.save()
    return not paid.replayed


def _mark(session: dict, status: str, reason: str) -> Purchase | None:
    with transaction.atomic():
        purchase = _lock_purchase_of_session(session)
        if purchase is not None and purchase.status == PurchaseStatus.PENDING:
            purchase.status = status
            purchase.failure_reason = reason
            purchase.save_fields("status", "failure_reason", "stripe_checkout_session_id")
        return purchase


def mark_failed(*, session: dict) -> Purchase | None:
    """The delayed payment failed: nothing is granted. A paid purchase is left alone."""
    return _mark(session, PurchaseStatus.FAILED, "The payment failed.")


def mark_expired(*, session: dict) -> Purchase | None:
    """Checkout was abandoned or cancelled: nothing is granted."""
    return _mark(session, PurchaseStatus.EXPIRED, "Checkout expired without payment.")
