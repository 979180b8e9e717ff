"""Adding charged events to the daily rollup, in the transaction that charged them.

A batch is summed in Python by its dimensions; the ledger's store adds the sums
to the stored rows with the batch's entries (an `AddedTotals`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal

from billing.ledger.store import current_store
from billing.ledger.store.interface import AddedTotals
from billing.models import DailyUsage

DIMENSIONS = ("organization_id", "day", "usage_type", "resource", "operation", "user_label")
MEASURES = ("event_count", "quantity", "input_tokens", "output_tokens", "cost_usd", "credits")


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

    def totals(self) -> AddedTotals:
        """The sums as the store adds them to the DailyUsage table."""
        organization_id = self.organization_id
        return AddedTotals(model=DailyUsage, dimensions=DIMENSIONS, measures=MEASURES, rows={
            (organization_id, *key): (t.event_count, t.quantity, t.input_tokens,
                                      t.output_tokens, t.cost_usd, t.credits)
            for key, t in self.rows.items()})

    def save(self) -> int:
        """Add the sums outside a book (a rebuild); returns the number of rows touched."""
        if self.rows:
            current_store().add_totals(self.totals())
        return len(self.rows)
