"""Refunds Stripe confirmed: the credits of a charge we made taken back, and given back
when a refund fails or is canceled (docs/stripe.md, "Refunds").

Invariant 6 of docs/ledger.md: a refund of a share r of a charge takes back
r x what the charge granted, rounded once; cumulative refunds never take back
more than it granted. `charge.refunded` carries the charge's cumulative
`amount_refunded` (the charge no longer embeds its refunds), so the change is
computed from it. A refund that fails or is canceled gives back the share it
took, once, keyed on the refund id; Stripe lowers the charge's total to match.
"""

import logging
from decimal import Decimal

from django.db import transaction

from billing import money
from billing.ledger.actor import Actor
from billing.ledger.book import open_book
from billing.models import EntryKind, LedgerEntry
from billing.models.purchases import major_text
from billing.payments.charges import ChargeNotGrantedYet, ChargeWeMade, locked_charge_for
from billing.payments.interface import object_id

logger = logging.getLogger(__name__)
ACTOR = Actor.system("stripe-refund")
REVERSED_STATUSES = frozenset({"failed", "canceled"})  # Stripe gives the money back


def credits_to_take_back(*, charge: ChargeWeMade, cumulative_refunded_minor: int) -> Decimal:
    """Invariant 6: r = newly refunded / paid; take r x granted, rounded once. The refund
    that brings the total to the amount paid takes exactly what is left."""
    paid, left = charge.amount_minor, charge.credits_left
    if cumulative_refunded_minor >= paid:
        return left
    newly = cumulative_refunded_minor - charge.row.amount_refunded_minor
    share = money.round_credits(charge.credits_granted * Decimal(newly) / Decimal(paid))
    return min(share, left)


def apply_charge_refunded(*, charge: dict, refund: dict | None = None):
    """Take back the credits of a refund Stripe confirmed; the purchase or topup attempt
    refunded, or None when the charge is not ours. `refund` is given only by a provider
    that refunds at once (the test provider), whose request id and refund are recorded on
    the entry so that a double submit refunds once."""
    charge_id = charge.get("id") or ""
    with transaction.atomic():
        found = locked_charge_for(charge)
        if found is None:
            logger.info("charge %s is not one we made: refund ignored", charge_id)
            return None
        if not found.is_granted and not found.is_held:
            # Stripe retries; by then the payment's event has granted.
            raise ChargeNotGrantedYet(f"refund of {found.label} #{found.row.pk} arrived "
                                      "before its payment was granted")
        row, currency = found.row, found.currency
        cumulative = min(int(charge.get("amount_refunded") or 0), found.amount_minor)
        if cumulative <= row.amount_refunded_minor:
            return row  # a redelivery, or an older snapshot of the charge
        take = (credits_to_take_back(charge=found, cumulative_refunded_minor=cumulative)
                if found.is_granted else 0)  # a held purchase granted nothing
        newly = cumulative - row.amount_refunded_minor
        if take > 0:
            with open_book(organization=found.organization) as book:
                book.take_back(
                    amount=take, entry_kind=EntryKind.REFUND, actor=ACTOR,
                    reason=f"Refund of {major_text(newly, currency)} {currency.upper()} for "
                           f"{found.label}",
                    idempotency_key=_refund_key(found, charge_id, cumulative),
                    preferred_grants=found.grants(),
                    metadata={**found.link(), "charge": charge_id,
                              "amount_refunded": major_text(newly, currency),
                              "amount_refunded_total": major_text(cumulative, currency),
                              "currency": currency,
                              **_local_refund_fields(charge, refund, newly)},
                )
        row.amount_refunded_minor = cumulative
        row.credits_refunded += take
        found.refund_totals_changed(charge_id=charge_id)
    return row


def _refund_key(found: ChargeWeMade, charge_id: str, cumulative: int) -> str:
    """`refund:<charge>:<cumulative>`; after a refund failed, the same total can come again
    for a new refund, so the number of refunds given back so far is part of the key."""
    reversed_so_far = LedgerEntry.objects.filter(
        account__organization_id=found.organization.pk, kind=EntryKind.REFUND,
        idempotency_key__startswith="refund-failed:", **{
            f"metadata__{name}": value for name, value in found.link().items()}).count()
    key = f"refund:{charge_id}:{cumulative}"
    return f"{key}:after-{reversed_so_far}" if reversed_so_far else key


def _local_refund_fields(charge: dict, refund: dict | None, newly: int) -> dict:
    request_id = (charge.get("metadata") or {}).get("request_id")
    if refund is None or not request_id:
        return {}
    return {"request_id": request_id, "refund_id": refund["id"], "amount_refunded_minor": newly}


def apply_refund_reversed(*, refund: dict):
    """A refund Stripe reports failed or canceled (refund.updated, refund.failed,
    charge.refund.updated): give back the credits its charge.refunded took, once, keyed
    on the refund id. Any other status moves nothing here (charge.refunded takes).

    Stripe lowers the charge's amount_refunded by the refund's amount, so the refunded
    total drops by it and later refunds count from there. A refund whose charge.refunded
    never arrived took nothing, so it has nothing to give back.
    """
    if refund.get("status") not in REVERSED_STATUSES:
        return None
    refund_id, amount = refund.get("id") or "", int(refund.get("amount") or 0)
    with transaction.atomic():
        found = locked_charge_for({**refund, "object": "refund"})
        if found is None or not found.is_granted or amount <= 0:
            logger.info("reversed refund %s is not of a charge we granted: ignored", refund_id)
            return None if found is None else found.row
        row, currency = found.row, found.currency
        key = f"refund-failed:{refund_id}"
        with open_book(organization=found.organization) as book:
            if book.find(key) is not None:
                return row  # a redelivery
            if amount > row.amount_refunded_minor or row.credits_refunded <= 0:
                logger.warning("reversed refund %s of %s was never applied: nothing to give "
                               "back", refund_id, found.label)
                return row
            remaining_refunded = row.amount_refunded_minor - amount
            give = row.credits_refunded if remaining_refunded == 0 else min(
                row.credits_refunded, money.round_credits(
                    found.credits_granted * Decimal(amount) / Decimal(found.amount_minor)))
            book.restore(
                amount=give, actor=ACTOR, entry_kind=EntryKind.REFUND,
                reason=f"Refund of {major_text(amount, currency)} {currency.upper()} "
                       f"{refund.get('status')}: credits given back",
                idempotency_key=key, to_grants=[(g, g.amount) for g in found.grants()],
                metadata={**found.link(), "refund": refund_id,
                          "amount_failed": major_text(amount, currency), "currency": currency,
                          "charge": object_id(refund.get("charge"))},
            )
        row.amount_refunded_minor = remaining_refunded
        row.credits_refunded -= give
        found.refund_totals_changed()
    return row
