"""The keys of a batch already used by stored usage events, read with the account lock
(so a concurrent request with the same key has committed or waits). The ledger entries
of the same keys are the book's own read (open_book's `keys`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.ledger.store.interface import LockRead
from billing.models.usage import UsageEvent


@dataclass(frozen=True, slots=True)
class PriorEvent:
    """What a stored event answers a repeat of its key with."""

    fingerprint: str
    occurred_at: datetime
    occurred_at_sent: bool
    credits: Decimal
    balance_after: Decimal | None


def stored_events(*, organization_id: int, keys: list[str]) -> LockRead:
    """The stored events among `keys`; their rows go to `prior_events`."""
    return LockRead(model=UsageEvent, columns=(
        "idempotency_key", "fingerprint", "occurred_at", "occurred_at_sent", "credits",
        "balance_after"), where=(("organization_id", organization_id), ("idempotency_key", keys)))


def prior_events(rows) -> dict[str, PriorEvent]:
    """Stored events by client key, from the rows of `stored_events`."""
    return {key: PriorEvent(*values) for key, *values in rows}
