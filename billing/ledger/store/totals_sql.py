"""The statement that adds an `AddedTotals` to its table: INSERT ... ON CONFLICT DO
UPDATE adding each measure to the stored one (PostgreSQL and SQLite share the
syntax; Django's bulk_create(update_conflicts=True) would replace the totals
instead). On PostgreSQL a large batch sends each column as one array (unnest)."""

from __future__ import annotations

from django.db import connection

from billing.ledger.store.hooks import AddedTotals


def _parts(totals: AddedTotals) -> tuple[str, str, str]:
    table = connection.ops.quote_name(totals.model._meta.db_table)
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in totals.measures)
    return table, ", ".join(totals.dimensions + totals.measures), updates


def upsert(totals: AddedTotals, items: list[tuple[tuple, tuple]]) -> tuple[str, list]:
    """One statement adding `items` ((dimension values, measure values), sorted)."""
    table, columns, updates = _parts(totals)
    width = len(totals.dimensions) + len(totals.measures)
    row = "(" + ", ".join(["%s"] * width) + ")"
    params = [value for dimensions, measures in items for value in (*dimensions, *measures)]
    return (f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(items))} "
            f"ON CONFLICT ({', '.join(totals.dimensions)}) DO UPDATE SET {updates}", params)


def upsert_arrays(totals: AddedTotals, items: list[tuple[tuple, tuple]]) -> tuple[str, list]:
    """The same with every column as one array parameter (PostgreSQL)."""
    table, columns, updates = _parts(totals)
    fields = [totals.model._meta.get_field(name) for name in
              totals.dimensions + totals.measures]
    arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in fields)
    values = [list(column) for column in zip(
        *[(*dimensions, *measures) for dimensions, measures in items], strict=True)]
    return (f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT ({', '.join(totals.dimensions)}) DO UPDATE SET {updates}", values)
