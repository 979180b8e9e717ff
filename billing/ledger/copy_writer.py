"""Bulk insertion of ledger rows with PostgreSQL's COPY, for large batches.

bulk_create spends most of a 1,000-entry flush building one huge INSERT.
COPY streams the rows instead; ids are drawn from the table's sequence first
(sorted, so id order stays posting order) because COPY returns nothing.
"""

import json

from django.db import connection

from billing.models import GrantAllocation, LedgerEntry

# Below this, one INSERT ... RETURNING is fewer round trips than nextval + COPY.
COPY_THRESHOLD = 50


def use_copy(count: int) -> bool:
    return connection.vendor == "postgresql" and count >= COPY_THRESHOLD


def _columns(model, *, with_pk: bool):
    return [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]


def _copy(model, fields, rows) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _value(entry: LedgerEntry, field):
    value = getattr(entry, field.attname)
    return json.dumps(value, default=str) if field.attname == "metadata" else value


def copy_entries(pending) -> None:
    """Insert the entries and allocations of `pending` (list of _Pending) by COPY."""
    entries = [p.entry for p in pending]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [LedgerEntry._meta.db_table, len(entries)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
    for entry, entry_id in zip(entries, ids, strict=True):
        entry.pk = entry_id
        entry._state.adding = False
        entry._state.db = connection.alias
    fields = _columns(LedgerEntry, with_pk=True)
    _copy(LedgerEntry, fields, ([_value(e, f) for f in fields] for e in entries))
    _copy(GrantAllocation, [GrantAllocation._meta.get_field(n) for n in ("entry", "grant",
                                                                        "amount")],
          ((p.entry.pk, grant.pk, delta) for p in pending for grant, delta in p.allocations))
