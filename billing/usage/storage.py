"""Writing usage events in bulk: COPY on PostgreSQL, bulk_create elsewhere.

Nothing reads the new rows' ids back, so PostgreSQL gets the rows through
COPY, several times faster than an INSERT of 1,000 rows with ~30 columns.
Rows arrive as dicts of column values, already in database form (the breakdown
encoded by `encode_breakdown`).
"""

from __future__ import annotations

import json

from django.db import connection

from billing.models.usage import UsageEvent

COLUMNS = [
    f.column for f in UsageEvent._meta.concrete_fields if not f.primary_key
]
_ATTNAMES = [
    f.attname for f in UsageEvent._meta.concrete_fields if not f.primary_key
]


class JsonText(str):
    """A breakdown already encoded for COPY (encoded before the lock is taken)."""


def encode_breakdown(breakdown: dict):
    return JsonText(json.dumps(breakdown)) if connection.vendor == "postgresql" else breakdown


def insert_events(rows: list[dict]) -> None:
    """Insert usage events given as {attname: value} (foreign keys as *_id)."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        _copy(rows)
    else:
        UsageEvent.objects.bulk_create([UsageEvent(**row) for row in rows], batch_size=500)


def _copy(rows: list[dict]) -> None:
    table = connection.ops.quote_name(UsageEvent._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in COLUMNS)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[name] for name in _ATTNAMES])
