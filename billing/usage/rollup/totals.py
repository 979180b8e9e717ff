"""Adding charged events to the daily rollup, inside the transaction that charged them.

A batch is first summed in Python by its dimensions, then written with one
INSERT ... ON CONFLICT DO UPDATE per chunk of rows (PostgreSQL and SQLite
share the syntax). Django's bulk_create(update_conflicts=True) would replace
the totals instead of adding to them, hence the SQL. On PostgreSQL a large
batch sends each column as one array (unnest): a VALUES list of a few
hundred rows is thousands of placeholders for the driver to parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal

from django.db import connection

from billing.models import DailyUsage

DIMENSIONS = ("organization_id", "day", "usage_type", "resource", "operation", "user_label")
MEASURES = ("event_count", "quantity", "input_tokens", "output_tokens", "cost_usd", "credits")
CHUNK = 200  # rows per statement: 12 parameters each, well under every backend's limit
# PostgreSQL types of the columns, in DIMENSIONS + MEASURES order, for unnest's arrays.
ARRAY_TYPES = ("bigint", "date", "text", "text", "text", "text",
               "bigint", "numeric", "bigint", "bigint", "numeric", "numeric")


@dataclass(slots=True)
class Totals:
    event_count: int = 0
    quantity: Decimal = Decimal(0)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    credits: Decimal = Decimal(0)


class RollupBatch:
    """Sums of one batch per dimension tuple, written by `save()`."""

    def __init__(self, organization_id: int):
        self.organization_id = organization_id
        self.rows: dict[tuple, Totals] = {}

    def add(self, *, occurred_at, usage_type: str, resource: str, operation: str,
            user_label: str, quantity: Decimal, input_tokens: int, output_tokens: int,
            cost_usd: Decimal, credits: Decimal) -> None:
        self.add_to(self.key_of(occurred_at=occurred_at, usage_type=usage_type,
                                resource=resource, operation=operation, user_label=user_label),
                    quantity, input_tokens, output_tokens, cost_usd, credits)

    @staticmethod
    def key_of(*, occurred_at, usage_type: str, resource: str, operation: str,
               user_label: str) -> tuple:
        """The row an event adds to: worked out before the account lock is taken."""
        day: date = occurred_at.astimezone(UTC).date()
        return (day, usage_type, resource or "", operation or "", user_label or "")

    def add_to(self, key: tuple, quantity: Decimal, input_tokens: int, output_tokens: int,
               cost_usd: Decimal, credits: Decimal) -> None:
        totals = self.rows.get(key)
        if totals is None:
            totals = self.rows[key] = Totals()
        totals.event_count += 1
        totals.quantity += quantity
        totals.input_tokens += input_tokens
        totals.output_tokens += output_tokens
        totals.cost_usd += cost_usd
        totals.credits += credits

    def _upsert(self, items) -> tuple[str, list]:
        """One INSERT ... ON CONFLICT DO UPDATE adding `items` to the stored totals."""
        table = connection.ops.quote_name(DailyUsage._meta.db_table)
        columns = ", ".join(DIMENSIONS + MEASURES)
        conflict = ", ".join(DIMENSIONS)
        updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in MEASURES)
        placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"]
                                 * len(items))
        params = []
        for (day, usage_type, resource, operation, user_label), t in items:
            params += [
                self.organization_id, day, usage_type, resource, operation, user_label,
                t.event_count, t.quantity, t.input_tokens, t.output_tokens,
                t.cost_usd, t.credits,
            ]
        return (f"INSERT INTO {table} ({columns}) VALUES {placeholders} "
                f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}", params)

    def _upsert_arrays(self, items) -> tuple[str, list]:
        """The same statement with every column as one array parameter (PostgreSQL)."""
        table = connection.ops.quote_name(DailyUsage._meta.db_table)
        updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in MEASURES)
        arrays = ", ".join(f"%s::{t}[]" for t in ARRAY_TYPES)
        columns = [[self.organization_id] * len(items), *map(list, zip(*[
            (*key, t.event_count, t.quantity, t.input_tokens, t.output_tokens, t.cost_usd,
             t.credits) for key, t in items], strict=True))]
        return (f"INSERT INTO {table} ({', '.join(DIMENSIONS + MEASURES)}) "
                f"SELECT * FROM unnest({arrays}) "
                f"ON CONFLICT ({', '.join(DIMENSIONS)}) DO UPDATE SET {updates}", columns)

    def upsert_statement(self) -> tuple[str, list]:
        """The whole batch as one statement, for a caller that writes it inside a larger
        one (a small book's single statement, billing/ledger/store/postgres_writes.py)."""
        return self._upsert(sorted(self.rows.items()))

    def save(self) -> int:
        """Upsert the sums; returns the number of rollup rows touched."""
        if not self.rows:
            return 0
        # Sorted, so two transactions touching the same rows lock them in one order.
        items = sorted(self.rows.items())
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(*self._upsert_arrays(items))
                return len(items)
            for start in range(0, len(items), CHUNK):
                cursor.execute(*self._upsert(items[start:start + CHUNK]))
        return len(items)
