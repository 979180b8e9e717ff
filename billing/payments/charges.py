"""A charge we made: a Checkout purchase or an auto-topup's off-session PaymentIntent.

Refunds and disputes (billing/refunds/, billing/disputes/) find the charge a
Stripe object names with `locked_charge_for`, by its PaymentIntent or charge id,
else by our metadata checked against the charge's customer and organisation,
and read one shape whatever made the charge: what was paid, what it granted,
what has been taken back. docs/stripe.md, "Charges we made".
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from billing.models import CreditGrant, Purchase, PurchaseStatus, TopupAttempt
from billing.payments.interface import object_id

logger = logging.getLogger(__name__)


class ChargeNotGrantedYet(Exception):
    """A refund or dispute of our charge arrived before the charge's credits were granted:
    raised so that Stripe delivers it again, by when the payment's own event has granted."""


@dataclass
class ChargeWeMade:
    row: Purchase | TopupAttempt

    @property
    def is_purchase(self) -> bool:
        return isinstance(self.row, Purchase)

    @property
    def organization(self):
        return self.row.organization

    @property
    def label(self) -> str:
        if self.is_purchase:
            return self.row.package_name
        return f"auto-topup {self.row.package_name} x{self.row.units}"

    @property
    def amount_minor(self) -> int:
        """What the charge paid, in the currency's minor units."""
        if self.is_purchase:
            return self.row.amount_paid_minor or self.row.price_minor
        return self.row.amount_minor

    @property
    def currency(self) -> str:
        return self.row.currency

    @property
    def credits_granted(self) -> Decimal:
        return self.row.total_credits if self.is_purchase else self.row.credits

    @property
    def is_granted(self) -> bool:
        return self.row.entry_id is not None

    @property
    def is_held(self) -> bool:
        """A purchase paid but held for staff: nothing granted, refundable."""
        return self.is_purchase and self.row.status == PurchaseStatus.HELD

    @property
    def customer_id(self) -> str:
        return self.row.stripe_customer_id if self.is_purchase else self.row.customer_id

    @property
    def credits_left(self) -> Decimal:
        """Granted and not yet taken back by refunds or disputes."""
        return self.credits_granted - self.row.credits_refunded - self.row.credits_disputed

    def link(self) -> dict:
        """What ledger metadata and dispute rows say the charge is."""
        return ({"purchase_id": self.row.pk} if self.is_purchase
                else {"topup_attempt_id": self.row.pk})

    def owner_fields(self) -> dict:
        return {"purchase": self.row} if self.is_purchase else {"topup_attempt": self.row}

    def grants(self) -> list[CreditGrant]:
        """The grants the charge made (paid, then bonus): refunds draw on them first."""
        if self.is_purchase:
            return [g for g in (self.row.paid_grant, self.row.bonus_grant) if g]
        if self.row.entry_id is None:
            return []
        paid = list(CreditGrant.objects.filter(allocations__entry_id=self.row.entry_id,
                                               allocations__amount__gt=0).order_by("pk"))
        return paid + list(CreditGrant.objects.filter(parent__in=paid).order_by("pk"))

    def refund_totals_changed(self, *, charge_id: str = "") -> None:
        """Save the refunded totals (and, for a purchase, the status they imply)."""
        row = self.row
        row.stripe_charge_id = row.stripe_charge_id or charge_id
        fields = ["amount_refunded_minor", "credits_refunded", "stripe_charge_id"]
        if self.is_purchase:
            refunded = row.amount_refunded_minor
            row.status = (PurchaseStatus.REFUNDED if refunded >= self.amount_minor else
                          PurchaseStatus.HELD if not self.is_granted else
                          PurchaseStatus.PARTIALLY_REFUNDED if refunded else PurchaseStatus.PAID)
            row.save_fields(*fields, "status")
        else:
            row.save(update_fields=fields)

    def save_disputed(self) -> None:
        if self.is_purchase:
            self.row.save_fields("credits_disputed")
        else:
            self.row.save(update_fields=["credits_disputed"])


def _same_owner(found: ChargeWeMade, stripe_object: dict, metadata: dict) -> bool:
    customer = object_id(stripe_object.get("customer"))
    return bool(customer and found.customer_id and customer == found.customer_id
                and metadata.get("organization") == found.organization.slug)


def _by_ids(intent_id: str, charge_id: str) -> ChargeWeMade | None:
    lookups = ((Purchase, "stripe_payment_intent_id", intent_id),
               (TopupAttempt, "payment_intent_id", intent_id),
               (Purchase, "stripe_charge_id", charge_id),
               (TopupAttempt, "stripe_charge_id", charge_id))
    for model, field, value in lookups:
        row = (model.objects.select_for_update(of=("self",)).select_related("organization")
               .filter(**{field: value}).first()) if value else None
        if row is not None:
            return ChargeWeMade(row)
    return None


def _by_metadata(stripe_object: dict) -> ChargeWeMade | None:
    """Stripe copies the PaymentIntent's metadata (ours: purchase_id or topup_attempt_id)
    onto its charges. The metadata alone is not trusted: another product on the same Stripe
    account can write any id there, so the customer and organisation must be ours too."""
    metadata = stripe_object.get("metadata") or {}
    for key, model in (("purchase_id", Purchase), ("topup_attempt_id", TopupAttempt)):
        raw = str(metadata.get(key) or "")
        if not raw.isdigit():
            continue
        row = (model.objects.select_for_update(of=("self",)).select_related("organization")
               .filter(pk=int(raw)).first())
        if row is None:
            continue
        found = ChargeWeMade(row)
        if _same_owner(found, stripe_object, metadata):
            return found
        if (not found.customer_id and not found.is_granted
                and metadata.get("organization") == found.organization.slug):
            # Its customer is known once the payment is granted: decide on redelivery.
            raise ChargeNotGrantedYet(f"{found.label} #{row.pk}: a refund or dispute arrived "
                                      "before its payment was granted")
        logger.warning("%s names %s %s in its metadata but its customer or organisation "
                       "differs: ignored", stripe_object.get("id"), key, raw)
    return None


def locked_charge_for(stripe_object: dict) -> ChargeWeMade | None:
    """The charge we made that a Stripe charge, refund or dispute is about, its row locked;
    None when it is not ours. Call inside a transaction."""
    is_charge = stripe_object.get("object") not in ("refund", "dispute")
    intent_id = object_id(stripe_object.get("payment_intent"))
    # A refund or a dispute names its charge; a charge is one.
    charge_id = (stripe_object.get("id") if is_charge
                 else object_id(stripe_object.get("charge"))) or ""
    found = _by_ids(intent_id, charge_id)
    if found is not None:
        customer = object_id(stripe_object.get("customer"))
        if customer and found.customer_id and customer != found.customer_id:
            logger.warning("%s names our PaymentIntent or charge but another customer (%s): "
                           "ignored", stripe_object.get("id"), customer)
            return None
        return found
    return _by_metadata(stripe_object) if is_charge else None
