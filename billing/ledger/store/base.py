"""The contract between a book and its store: what the lock reads, what a flush writes.

A store takes the account lock and reads, with it, the live grants, the entries of
the keys the caller expects and the caller's own reads; it writes a book's changes
in bulk. One store per database vendor, chosen once (billing.ledger.store.current).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from billing.ledger.postings import Pending
from billing.ledger.store.hooks import AddedTotals, LinkedRows, LockRead
from billing.models import CreditAccount, CreditGrant, LedgerEntry


@dataclass
class Locked:
    """The locked account, its live grants (unordered), the entries found among the keys
    asked for, and the rows of each read, by read."""

    account: CreditAccount
    grants: list[CreditGrant]
    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    rows: dict[LockRead, list[tuple]] = field(default_factory=dict)


@dataclass
class Changes:
    """What a book's flush writes: new entries with their allocations, grants whose
    remaining or expiry changed, the account's running state, and the areas' rows."""

    account: CreditAccount
    pending: list[Pending]
    grants: list[CreditGrant]
    balance: Decimal
    last_hash: str
    entry_count: int
    now: datetime
    linked: list[LinkedRows] = field(default_factory=list)
    totals: list[AddedTotals] = field(default_factory=list)
    last: bool = False  # nothing follows in the transaction, which the book owns


class Store(Protocol):
    def lock(self, organization_id: int, *, keys: list[str],
             reads: list[LockRead]) -> Locked | None:
        """Lock the account of the org inside the caller's transaction; None when the org
        has no account yet."""

    def live_grants(self, account: CreditAccount) -> list[CreditGrant]: ...

    def entries_by_key(self, account: CreditAccount, keys: list[str]
                       ) -> dict[str, LedgerEntry]: ...

    def insert_grant(self, grant: CreditGrant) -> None:
        """Save a new grant now: its id is hashed with the entry that opens it."""

    def write(self, changes: Changes) -> None: ...

    def encode_ahead(self, rows: list[list], ahead: int) -> list[str] | None:
        """The first `ahead` values of each row encoded for streaming, or None when this
        store will not stream so many rows."""
