"""Writing usage events in bulk: COPY on PostgreSQL, bulk_create elsewhere.

Nothing reads the new rows' ids back, so PostgreSQL gets the rows through
COPY, several times faster than an INSERT of 1,000 rows with ~30 columns.
Rows arrive as dicts of column values, already in database form (the breakdown
encoded by `encode_breakdown` before the account lock is taken).
"""

from __future__ import annotations

from django.db import connection

from billing import bulk
from billing.models.usage import UsageEvent

FIELDS = [f for f in UsageEvent._meta.concrete_fields if not f.primary_key]
_ENTRY = UsageEvent._meta.get_field("entry")


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


def insert_statement(rows: list[dict], *, entry_seqs: list[int | None]) -> tuple[str, list]:
    """One INSERT of the events (PostgreSQL), for a small book's single statement
    (billing/ledger/writers.py): each event's entry is found among the statement's new
    entries `e(id, seq)` by its seq (None: a free event, no entry)."""
    attnames = _INSERT_ATTNAMES
    params = []
    for row, seq in zip(rows, entry_seqs, strict=True):
        params += [row[name] for name in attnames]
        params.append(seq)
    return _insert_sql(len(rows)), params


_INSERT_FIELDS = [f for f in FIELDS if f is not _ENTRY]
_INSERT_ATTNAMES = [f.attname for f in _INSERT_FIELDS]
_INSERT_SQL: dict[int, str] = {}  # by row count: the text is the same for every batch


def _insert_sql(count: int) -> str:
    sql = _INSERT_SQL.get(count)
    if sql is None:
        fields, quote = _INSERT_FIELDS, connection.ops.quote_name
        row_sql = ("(" + ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields)
                   + ", %s::bigint)")
        columns = ", ".join(quote(f.column) for f in fields)
        names = ", ".join(f"c{i}" for i in range(len(fields)))
        sql = (f"INSERT INTO {quote(UsageEvent._meta.db_table)} ({columns}, "
               f"{quote(_ENTRY.column)}) SELECT {names}, e.id FROM "
               f"(VALUES {', '.join([row_sql] * count)}) AS v({names}, entry_seq) "
               f"LEFT JOIN e ON e.seq = v.entry_seq")
        if len(_INSERT_SQL) < 64:  # small books only reach here: a few sizes in practice
            _INSERT_SQL[count] = sql
    return sql
