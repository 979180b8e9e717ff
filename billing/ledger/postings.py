"""What a book posts: new entries made in Python before they are written in bulk.

A 1,000-event batch makes 1,000 entries under the account lock, and Django's
Model.__init__ (signals, a descriptor call per field) was a large share of that
time; `EntryFactory` makes the same unsaved object directly.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models.base import ModelState

from billing.models import CreditGrant, LedgerEntry


@dataclass
class Posting:
    entry: LedgerEntry
    grant: CreditGrant | None = None
    replayed: bool = False


@dataclass
class Pending:
    """An entry posted in a book, waiting for the book's flush."""

    entry: LedgerEntry
    allocations: list[tuple[CreditGrant, Decimal]] = field(default_factory=list)
    metadata_text: str = ""  # chain.metadata_json of the entry's metadata


def burn_order(grants: Iterable[CreditGrant]) -> list[CreditGrant]:
    return sorted(grants, key=CreditGrant.burn_order_key)

# Each column's default as __init__ would give it (callable defaults: the caller passes
# those columns, created_at and metadata, every time).
_DEFAULTS = {f.attname: None if f.has_default() and callable(f.default) else f.get_default()
             for f in LedgerEntry._meta.concrete_fields}


class EntryFactory:
    """Unsaved entries, like `LedgerEntry(**related, **values)`, sharing their related
    objects (their ids, the cached objects and the database worked out once): a book keeps
    one for its next entries by the same actor."""

    __slots__ = ("related", "_ids", "_db")

    def __init__(self, related: dict):
        self.related = related
        self._ids, self._db = {}, None
        for name, obj in related.items():
            if obj is not None:
                self._ids[f"{name}_id"] = obj.pk
                self._db = self._db or obj._state.db  # as the descriptor sets it

    def make(self, values: dict) -> LedgerEntry:
        entry = LedgerEntry.__new__(LedgerEntry)
        columns = entry.__dict__
        columns.update(_DEFAULTS)
        columns.update(values)
        columns.update(self._ids)
        state = entry._state = ModelState()
        state.fields_cache = dict(self.related)  # each entry its own cache, as __init__
        state.db = self._db
        return entry
