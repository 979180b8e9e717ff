"""Writing usage events in bulk: COPY on PostgreSQL, bulk_create elsewhere.

Nothing reads the new rows' ids back, so PostgreSQL gets the rows through
COPY, several times faster than an INSERT of 1,000 rows with ~30 columns.
Rows arrive as dicts of column values, already in database form (the breakdown
encoded by `encode_breakdown` before the account lock is taken).
"""

from __future__ import annotations

from billing import bulk
from billing.models.usage import UsageEvent

FIELDS = [f for f in UsageEvent._meta.concrete_fields if not f.primary_key]


def encode_breakdown(breakdown: dict):
    return bulk.json_text(breakdown) if bulk.copy_usable() else breakdown


def insert_events(rows: list[dict]) -> None:
    """Insert usage events given as {attname: value} (foreign keys as *_id)."""
    if not rows:
        return
    if bulk.copy_usable():
        bulk.copy_rows(UsageEvent, FIELDS, ([row[f.attname] for f in FIELDS] for row in rows))
    else:
        UsageEvent.objects.bulk_create([UsageEvent(**row) for row in rows], batch_size=500)
