"""The keys of a batch already used: stored usage events, and ledger entries of the same key.

Read under the account lock (so a concurrent request with the same key has
committed or waits), in one query for both tables: a UNION of the events and
of the `usage:<key>` entries, with each key list passed as one array on
PostgreSQL (billing.bulk.one_of).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import BooleanField, DateTimeField, Value

from billing.bulk import one_of
from billing.models import LedgerEntry
from billing.models.usage import UsageEvent


@dataclass(frozen=True, slots=True)
class PriorEvent:
    """What a stored event answers a repeat of its key with."""

    fingerprint: str
    occurred_at: datetime
    occurred_at_sent: bool
    credits: Decimal
    balance_after: Decimal | None


def known_keys(*, organization_id: int, account_id: int, keys: list[str],
               ledger_prefix: str) -> tuple[dict[str, PriorEvent], dict[str, LedgerEntry]]:
    """(stored events by client key, ledger entries by ledger key) among `keys`."""
    events = (UsageEvent.objects.filter(one_of("idempotency_key", keys),
                                        organization_id=organization_id)
              .order_by().values_list(Value("event"), "idempotency_key", "fingerprint",
                                      "occurred_at", "occurred_at_sent", "credits",
                                      "balance_after"))
    entries = (LedgerEntry.objects.filter(one_of("idempotency_key",
                                                 [ledger_prefix + k for k in keys]),
                                          account_id=account_id)
               .order_by().values_list(Value("entry"), "idempotency_key", "fingerprint",
                                       Value(None, output_field=DateTimeField()),
                                       Value(None, output_field=BooleanField()), "amount",
                                       "balance_after"))
    prior: dict[str, PriorEvent] = {}
    ledger: dict[str, LedgerEntry] = {}
    for source, key, fingerprint, occurred_at, sent, amount, balance_after in \
            events.union(entries, all=True):
        if source == "event":
            prior[key] = PriorEvent(fingerprint, occurred_at, sent, amount, balance_after)
        else:  # enough of the entry for the book's replay check and the caller's answer
            ledger[key] = LedgerEntry(idempotency_key=key, fingerprint=fingerprint,
                                      amount=amount, balance_after=balance_after)
    return prior, ledger
