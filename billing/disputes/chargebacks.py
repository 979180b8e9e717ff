"""Disputes of a charge we made, through Stripe's whole life of a dispute (docs/stripe.md,
"Disputes").

Every dispute event (created, updated, closed, funds_withdrawn, funds_reinstated)
carries the dispute's status, and the status alone decides: credits are taken
while Stripe holds the funds (needs_response, under_review, lost and the appeal
statuses), never during an inquiry (warning_*), and given back when the funds
are reinstated (won, on appeal too), less the share of the charge refunded meanwhile.
A status earlier in the life than the one applied (a late or redelivered event)
changes nothing. The share taken is the
disputed amount over the charge's own amount, in the charge's currency (a
dispute in another currency takes the charge's all), never more than it
granted. Each step is keyed (`dispute:<id>`, `dispute-won:<id>`), so it happens once.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing import money
from billing.ledger.actor import Actor
from billing.ledger.book import open_book
from billing.models import Dispute, DisputeStatus, EntryKind
from billing.models.disputes import FUNDS_WITHDRAWN
from billing.models.purchases import major_text
from billing.payments.charges import ChargeNotGrantedYet, ChargeWeMade, locked_charge_for

logger = logging.getLogger(__name__)
ACTOR = Actor.system("stripe-dispute")

# Stripe's dispute statuses in the order of a dispute's life, and what each means here.
LIFE = {
    "warning_needs_response": (0, DisputeStatus.INQUIRY),
    "warning_under_review": (1, DisputeStatus.INQUIRY),
    "needs_response": (2, DisputeStatus.OPEN),
    "under_review": (3, DisputeStatus.OPEN),
    "lost": (4, DisputeStatus.LOST),
    "appeal_needs_response": (5, DisputeStatus.APPEAL),
    "appeal_under_review": (6, DisputeStatus.APPEAL),
    "won": (9, DisputeStatus.WON),
    "warning_closed": (9, DisputeStatus.CLOSED),
    "prevented": (9, DisputeStatus.CLOSED),
}
FINAL = frozenset({DisputeStatus.WON, DisputeStatus.CLOSED})


def apply_dispute(*, dispute: dict) -> Dispute | None:
    """Bring our side to the dispute's status; None when its charge is not ours."""
    stripe_status = dispute.get("status") or ""
    if stripe_status not in LIFE:
        raise ValueError(f"dispute {dispute.get('id')}: unknown status {stripe_status!r}")
    with transaction.atomic():
        found = locked_charge_for({**dispute, "object": "dispute"})
        if found is None:
            logger.info("dispute %s is not of a charge we made: ignored", dispute.get("id"))
            return None
        if not found.is_granted:
            raise ChargeNotGrantedYet(f"dispute of {found.label} #{found.row.pk} arrived "
                                      "before its payment was granted")
        record = _locked_record(found, dispute)
        rank, status = LIFE[stripe_status]
        if record.stripe_status and rank < LIFE[record.stripe_status][0]:
            return record  # an older step of the dispute's life, delivered late
        if record.status in FINAL:
            return record
        if status in FUNDS_WITHDRAWN:
            _take(found, record)
        elif status == DisputeStatus.WON and record.taken_entry_id is not None:
            _give_back(found, record)
        record.status, record.stripe_status = status, stripe_status
        if status in (DisputeStatus.WON, DisputeStatus.LOST, DisputeStatus.CLOSED):
            record.closed_at = record.closed_at or timezone.now()
        record.save(update_fields=["status", "stripe_status", "closed_at"])
        return record


def _locked_record(found: ChargeWeMade, dispute: dict) -> Dispute:
    """The dispute row, created once, locked after its charge's row (as refunds lock it)."""
    record, _ = Dispute.objects.get_or_create(
        dispute_id=dispute["id"],
        defaults={"organization": found.organization, **found.owner_fields(),
                  "charge_id": found.row.stripe_charge_id or str(dispute.get("charge") or ""),
                  "amount_minor": int(dispute.get("amount") or 0),
                  "currency": (dispute.get("currency") or found.currency).lower()[:3],
                  "reason": str(dispute.get("reason") or "")[:100]},
    )
    return Dispute.objects.select_for_update().get(pk=record.pk)


def disputed_credits(found: ChargeWeMade, record: Dispute) -> Decimal:
    """The disputed share of what the charge granted, by the charge's own amount and
    currency, never more than is left of it."""
    paid = found.amount_minor
    if record.currency != found.currency.lower():
        logger.warning("dispute %s is in %s, its charge in %s: the whole charge is taken",
                       record.dispute_id, record.currency, found.currency)
        share = found.credits_granted
    else:
        share = money.round_credits(
            found.credits_granted * Decimal(min(record.amount_minor, paid)) / Decimal(paid))
    return min(share, found.credits_left)


def _take(found: ChargeWeMade, record: Dispute) -> None:
    if record.taken_entry_id is not None:
        return
    take = disputed_credits(found, record)
    if take <= 0:
        return
    with open_book(organization=found.organization) as book:
        posting = book.take_back(
            amount=take, entry_kind=EntryKind.DISPUTE, actor=ACTOR,
            reason=f"Dispute of {major_text(record.amount_minor, record.currency)} "
                   f"{record.currency.upper()} on {found.label}",
            idempotency_key=f"dispute:{record.dispute_id}", preferred_grants=found.grants(),
            metadata={**found.link(), "dispute": record.dispute_id},
        )
    record.taken_entry = posting.entry
    record.credits_taken = take
    record.save(update_fields=["taken_entry", "credits_taken"])
    found.row.credits_disputed += take
    found.save_disputed()


def refunded_while_disputed(found: ChargeWeMade, record: Dispute) -> Decimal:
    """The share of the credits a won dispute gives back that refunds of the same charge
    claimed meanwhile. A refund while the dispute held the credits took nothing (nothing
    was left), yet the money went back to the payer: the org keeps only the charge's
    unrefunded share, less what other disputes still hold."""
    paid, granted, row = found.amount_minor, found.credits_granted, found.row
    if row.amount_refunded_minor >= paid:
        refunds_claim = granted
    else:
        refunds_claim = money.round_credits(granted * Decimal(row.amount_refunded_minor)
                                            / Decimal(paid))
    kept_by_org = granted - max(row.credits_refunded, refunds_claim)
    held_by_other_disputes = row.credits_disputed - record.credits_taken
    room = kept_by_org - held_by_other_disputes - found.credits_left
    return record.credits_taken - max(Decimal(0), min(record.credits_taken, room))


def _give_back(found: ChargeWeMade, record: Dispute) -> None:
    """Reverse the dispute's entry; a share refunds claimed meanwhile is then taken as
    those refunds' own entry, so the refund counters and the ledger agree (and a refund
    that fails later gives it back as any refund's)."""
    if record.restored_entry_id is not None:
        return
    refunded = refunded_while_disputed(found, record)
    taken = record.taken_entry
    drawn = [(a.grant, -a.amount) for a in taken.allocations.select_related("grant")
             if a.amount < 0]
    with open_book(organization=found.organization) as book:
        posting = book.restore(
            amount=record.credits_taken, actor=ACTOR, reason=f"Dispute {record.dispute_id} won",
            idempotency_key=f"dispute-won:{record.dispute_id}", to_grants=drawn,
            metadata={**found.link(), "dispute": record.dispute_id},
            reverses=taken, entry_kind=EntryKind.DISPUTE,
        )
        if refunded > 0:
            book.take_back(
                amount=refunded, entry_kind=EntryKind.REFUND, actor=ACTOR,
                reason=f"Refund of {found.label}, made while dispute {record.dispute_id} "
                       "held its credits",
                idempotency_key=f"dispute-won-refunded:{record.dispute_id}",
                preferred_grants=found.grants(),
                # The refunds it accounts for posted no entry: their total is shown here.
                metadata={**found.link(), "dispute": record.dispute_id,
                          "amount_refunded_total": major_text(
                              found.row.amount_refunded_minor, found.currency),
                          "currency": found.currency},
            )
    record.restored_entry = posting.entry
    record.save(update_fields=["restored_entry"])
    found.row.credits_disputed -= record.credits_taken
    found.save_disputed()
    if refunded > 0:
        found.row.credits_refunded += refunded
        found.refund_totals_changed()
