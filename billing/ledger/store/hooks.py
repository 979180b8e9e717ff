"""What an area hands a book besides its postings: typed data, never SQL text.

A `LockRead` is answered once the account lock is held; `LinkedRows` and
`AddedTotals` are written with the book's entries. The store decides how each
reaches the database (docs/architecture.md, "The ledger's store").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models


@dataclass(frozen=True, eq=False)
class LockRead:
    """A query answered with the account lock held, so that it sees everything the previous
    holder committed: a `values_list` of plain fields (its rows come back as tuples)."""

    query: models.QuerySet


@dataclass(eq=False)
class LinkedRows:
    """New rows of another table written with the book's entries, each pointing at the
    entry it caused (or at none) through the `link` column, the last of `columns`.

    The first `ahead` values of a row are final before the lock is taken, the rest (and
    the link) are set under it: a store that streams rows encodes that first part before
    the lock (`encode_ahead`), and only the rest while it holds it."""

    model: type[models.Model]
    columns: tuple[str, ...]
    ahead: int
    rows: list[list] = field(default_factory=list)
    entries: list = field(default_factory=list)  # LedgerEntry | None, one per row
    heads: list[str | None] = field(default_factory=list)

    @property
    def link(self) -> str:
        return self.columns[-1]

    def encode_ahead(self, rows: list[list]) -> list[str | None]:
        """Each row's first part encoded for a store that will stream this many rows (None
        each for one that will not): called before the lock, the heads given to `add`."""
        from billing.ledger.store import current

        return current().encode_ahead(rows, self.ahead) or [None] * len(rows)

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
