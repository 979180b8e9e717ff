"""Staff and operator corrections: manual adjustments and reversals, each with a reason."""

import uuid
from datetime import datetime
from decimal import Decimal

from accounts.text import text_problem
from billing import money
from billing.ledger.actor import Actor
from billing.ledger.book import Posting, open_book
from billing.ledger.chain import fingerprint_of
from billing.ledger.errors import LedgerError, NotReversible
from billing.models import EntryKind, GrantKind, LedgerEntry

# Purchases, bonuses, topups and refunds mirror money that moved at Stripe: they are
# corrected by a refund (or an adjustment with a reason), never by reversing the entry.
REVERSIBLE_KINDS = frozenset({EntryKind.USAGE, EntryKind.ADJUSTMENT, EntryKind.EXPIRY})


MAX_REASON = 1000


def _reason(reason: str | None, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise LedgerError(f"{what} needs a reason")
    if problem := text_problem(reason):
        raise LedgerError(f"the reason {problem}")
    if len(reason) > MAX_REASON:
        raise LedgerError(f"the reason must be at most {MAX_REASON} characters")
    return reason


def adjust_credits(*, organization, credits: Decimal, reason: str, actor: Actor,
                   request_id: str | None = None, grant_kind: str = GrantKind.ADJUSTMENT,
                   expires_at: datetime | None = None, now: datetime | None = None) -> Posting:
    """Add (a grant) or remove (past zero into debt if need be) credits, with a reason."""
    credits = money.parse_credits(credits, allow_negative=True)
    reason = _reason(reason, "an adjustment")
    if credits < 0 and (expires_at or grant_kind != GrantKind.ADJUSTMENT):
        raise LedgerError("expiry and grant kind apply to positive adjustments only")
    key = f"adjust:{request_id or uuid.uuid4()}"
    with open_book(organization=organization, now=now) as book:
        if credits > 0:
            return book.grant(
                amount=credits, grant_kind=grant_kind, entry_kind=EntryKind.ADJUSTMENT,
                actor=actor, reason=reason, idempotency_key=key, expires_at=expires_at,
            )
        return book.take_back(
            amount=-credits, entry_kind=EntryKind.ADJUSTMENT, actor=actor, reason=reason,
            idempotency_key=key,
        )


def reverse_entry(*, entry: LedgerEntry, reason: str, actor: Actor,
                  now: datetime | None = None) -> Posting:
    """Post the opposite of `entry`, linked to it. Reversing twice returns the first reversal."""
    reason = _reason(reason, "a reversal")
    if entry.kind not in REVERSIBLE_KINDS:
        raise NotReversible(
            f"{entry.get_kind_display()} entries are not reversed: "
            "use a refund or an adjustment with a reason"
        )
    organization = entry.account.organization
    key = f"reversal:{entry.pk}"
    fingerprint = fingerprint_of("reverse", entry.pk)
    with open_book(organization=organization, now=now) as book:
        existing = book.find(key)
        if existing is not None:
            return Posting(entry=existing, replayed=True)
        metadata = {"reverses_entry": entry.pk}
        if entry.amount < 0:
            drawn = [(a.grant, -a.amount) for a in entry.allocations.select_related("grant")
                     if a.amount < 0]
            return book.restore(
                amount=-entry.amount, actor=actor, reason=reason, idempotency_key=key,
                to_grants=drawn, metadata=metadata, fingerprint=fingerprint, reverses=entry,
            )
        own = [a.grant for a in entry.allocations.select_related("grant") if a.amount > 0]
        return book.take_back(
            amount=entry.amount, entry_kind=EntryKind.REVERSAL, actor=actor, reason=reason,
            idempotency_key=key, preferred_grants=own, metadata=metadata,
            fingerprint=fingerprint, reverses=entry,
        )
