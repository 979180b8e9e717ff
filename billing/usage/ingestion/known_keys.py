"""The keys of a batch already used: stored usage events, and ledger entries of the same key.

Read under the account lock (so a concurrent request with the same key has
committed or waits), in one query for both tables: a UNION of the events and
of the `usage:<key>` entries, with each key list passed as one array on
PostgreSQL (billing.ledger.store.copy_format.one_of). On PostgreSQL the same query, as raw SQL
(`known_keys_statement`), travels with the lock itself
(billing/ledger/store/postgres_lock.py): no round trip of its own under the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import BooleanField, DateTimeField, Value

from billing.ledger.store.copy_format import one_of
from billing.models import CreditAccount, LedgerEntry
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
    return known_keys_from_rows(events.union(entries, all=True))


def _statement_sql() -> str:
    q = connection.ops.quote_name
    return (
        f"SELECT 'event', idempotency_key, fingerprint, occurred_at, occurred_at_sent, credits, "
        f"balance_after FROM {q(UsageEvent._meta.db_table)} "
        f"WHERE organization_id = %s AND idempotency_key = ANY(%s) "
        f"UNION ALL SELECT 'entry', l.idempotency_key, l.fingerprint, NULL, NULL, l.amount, "
        f"l.balance_after FROM {q(LedgerEntry._meta.db_table)} AS l "
        f"JOIN {q(CreditAccount._meta.db_table)} AS a ON a.id = l.account_id "
        f"WHERE a.organization_id = %s AND l.idempotency_key = ANY(%s)"
    )


_STATEMENT: str | None = None  # the same text for every batch: built once


def known_keys_statement(*, organization_id: int, keys: list[str],
                         ledger_prefix: str) -> tuple[str, list]:
    """`known_keys` as one PostgreSQL statement (sql, params), to read with the lock; its
    rows go to `known_keys_from_rows`. The ledger's side is found through the org's
    account, whose id is not known before the lock."""
    global _STATEMENT
    if _STATEMENT is None:
        _STATEMENT = _statement_sql()
    return _STATEMENT, [organization_id, list(keys), organization_id,
                        [ledger_prefix + k for k in keys]]


def known_keys_from_rows(rows) -> tuple[dict[str, PriorEvent], dict[str, LedgerEntry]]:
    """(stored events by client key, ledger entries by ledger key) from the rows of either
    query: (source, key, fingerprint, occurred_at, occurred_at_sent, amount, balance_after)."""
    prior: dict[str, PriorEvent] = {}
    ledger: dict[str, LedgerEntry] = {}
    for source, key, fingerprint, occurred_at, sent, amount, balance_after in rows:
        if source == "event":
            prior[key] = PriorEvent(fingerprint, occurred_at, sent, amount, balance_after)
        else:  # enough of the entry for the book's replay check and the caller's answer
            ledger[key] = LedgerEntry(idempotency_key=key, fingerprint=fingerprint,
                                      amount=amount, balance_after=balance_after)
    return prior, ledger
