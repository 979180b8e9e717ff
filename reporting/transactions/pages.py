"""Keyset pagination of the ledger: a page costs the same on page 1 and page 100,000.

An OFFSET page reads and throws away every row before it, and a page count needs a
COUNT(*) over the filtered ledger: both grow with the org's history. Here a page
is the next `size` rows after (or before) a cursor in a total order, `-id` by
default or `amount` with id as the tie-break, read through the (account, id) or
the (account, amount, id) index. There is no page count: the page says how many
entries the account has (kept on the account row) and offers first, newer and older.

A cursor is `<sort>~<value>[~<id>]`; one written for another sort is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import Q, QuerySet

SORTS = {
    "-id": ("-id",),
    "id": ("id",),
    "-amount": ("-amount", "-id"),
    "amount": ("amount", "id"),
}
DEFAULT_SORT = "-id"
PAGE_SIZE = 50


@dataclass
class KeysetPage:
    rows: list
    sort: str
    newer: str | None  # cursor for the page before this one
    older: str | None  # cursor for the page after this one
    is_first: bool


def _key(row, sort: str) -> str:
    if sort.lstrip("-") == "id":
        return f"{sort}~{row.pk}"
    return f"{sort}~{row.amount}~{row.pk}"


def _parse(cursor: str | None, sort: str):
    if not cursor:
        return None
    parts = cursor.split("~")
    if parts[0] != sort:
        return None
    try:
        if sort.lstrip("-") == "id" and len(parts) == 2:
            return (int(parts[1]),)
        if len(parts) == 3:
            return (Decimal(parts[1]), int(parts[2]))
    except (ValueError, InvalidOperation):
        return None
    return None


def _beyond(key: tuple, sort: str, *, forward: bool) -> Q:
    """Rows strictly after `key` in the sort's order (or before it when not forward)."""
    descending = sort.startswith("-")
    op = "lt" if descending == forward else "gt"
    if len(key) == 1:
        return Q(**{f"id__{op}": key[0]})
    amount, pk = key
    # The first term is implied by the other two; it is there for the planner, which
    # turns it into the start of a range scan of (account, amount, id) where the OR
    # alone makes it read the index from its end and filter every row before the cursor.
    return Q(**{f"amount__{op}e": amount}) & (
        Q(**{f"amount__{op}": amount}) | Q(amount=amount, **{f"id__{op}": pk}))


def _reversed(order: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f[1:] if f.startswith("-") else f"-{f}" for f in order)


def _first(querysets: list[QuerySet], order: tuple[str, ...], limit: int) -> list:
    """The first `limit` rows, in `order`, of the union of the querysets: each one's own
    first `limit` rows, merged (an entry in two of them counted once)."""
    if len(querysets) == 1:
        return list(querysets[0].order_by(*order)[:limit])
    found = {}
    for qs in querysets:
        for row in qs.order_by(*order)[:limit]:
            found[row.pk] = row
    return sorted(found.values(), key=lambda row: tuple(
        -getattr(row, f[1:]) if f.startswith("-") else getattr(row, f) for f in order))[:limit]


def keyset_page(queryset: QuerySet, *, sort: str, after: str | None = None,
                before: str | None = None, size: int = PAGE_SIZE,
                parts: list[QuerySet] | None = None) -> KeysetPage:
    """`parts`, when given, are querysets whose union is `queryset`, each of which an index
    serves where an OR across them would not (the user filter: filters.py)."""
    sort = sort if sort in SORTS else DEFAULT_SORT
    order = SORTS[sort]
    querysets = parts or [queryset]
    after_key, before_key = _parse(after, sort), _parse(before, sort)
    if before_key is not None:
        beyond = _beyond(before_key, sort, forward=False)
        rows = _first([qs.filter(beyond) for qs in querysets], _reversed(order), size + 1)
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return KeysetPage(rows=rows, sort=sort, is_first=not more_newer,
                          newer=_key(rows[0], sort) if more_newer and rows else None,
                          older=_key(rows[-1], sort) if rows else None)
    if after_key is not None:
        beyond = _beyond(after_key, sort, forward=True)
        querysets = [qs.filter(beyond) for qs in querysets]
    rows = _first(querysets, order, size + 1)
    more_older = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows=rows, sort=sort, is_first=after_key is None,
                      newer=_key(rows[0], sort) if after_key is not None and rows else None,
                      older=_key(rows[-1], sort) if more_older else None)
