"""The ledger's store: the contract between a book and the database.

An area hands a book typed data, never SQL text: a `LockRead` is answered once the
account lock is held; `LinkedRows` and `AddedTotals` are written with the book's
entries. A `Store` takes the lock with those reads and writes a book's `Changes`
in bulk; `billing.ledger.store.current_store()` picks the one for the database in
use (docs/architecture.md, "The ledger's store").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.db import models

from billing.ledger.postings import Pending
from billing.models import CreditAccount, CreditGrant, LedgerEntry


@dataclass(frozen=True, eq=False)
class LockRead:
    """Rows read with the account lock held, so that they see everything the previous
    holder committed: the `columns` of `model` where each `where` column equals its value,
    or is one of its values when that is a list. A name may follow one foreign key
    (`user__email`). Its rows come back as tuples, in `columns` order.

    Typed data rather than a queryset: the store turns each shape into SQL once, where
    building and compiling a queryset per request would cost more than the read."""

    model: type[models.Model]
    columns: tuple[str, ...]
    where: tuple[tuple[str, object], ...]

    def queryset(self) -> models.QuerySet:
        """The same read through the ORM."""
        return (self.model.objects.filter(**{
            f"{name}__in" if isinstance(value, list) else name: value
            for name, value in self.where}).order_by().values_list(*self.columns))


@dataclass(eq=False)
class LinkedRows:
    """New rows of another table written with the book's entries, each pointing at the
    entry it caused (or at none) through the `link` column, the last of `columns`.

    The first `ahead` values of a row are final before the lock is taken, the rest (and
    the link) are set under it: a store that streams rows encodes that first part before
    the lock (`Store.encode_ahead`, the heads given to `add`), and only the rest while it
    holds it."""

    model: type[models.Model]
    columns: tuple[str, ...]
    ahead: int
    rows: list[list] = field(default_factory=list)
    entries: list = field(default_factory=list)  # LedgerEntry | None, one per row
    heads: list[str | None] = field(default_factory=list)

    @property
    def link(self) -> str:
        return self.columns[-1]

    def add(self, row: list, entry, head: str | None = None) -> None:
        self.rows.append(row)
        self.entries.append(entry)
        self.heads.append(head)


@dataclass(eq=False)
class AddedTotals:
    """Measures added to the rows of a totals table, by dimensions: a row is inserted, or
    its measures are added to the stored ones. `rows`: dimension values -> measure values."""

    model: type[models.Model]
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    rows: dict[tuple, tuple] = field(default_factory=dict)


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
