"""Writing usage events in bulk: COPY on PostgreSQL, bulk_create elsewhere.

Nothing reads the new rows' ids back, so PostgreSQL gets the rows through
COPY, several times faster than an INSERT of 1,000 rows with ~30 columns.
Rows arrive as lists of column values in COLUMNS order, already in database
form (the breakdown encoded before the account lock is taken): a batch builds
1,000 of them, and a list in COPY's order costs a fraction of a dict turned
into a list.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from billing.ledger.store import copy_format as bulk
from billing.ledger.store import postgres_writes as writers
from billing.models.usage import UsageEvent

# The order of a row's values; the two set once the event is charged come last.
COLUMNS = (
    "organization_id", "idempotency_key", "type", "ai_model_id", "meter_id", "resource",
    "name_sent", "provider", "service_tier", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "quantity", "operation",
    "user_id", "user_label", "api_key_id", "occurred_at", "occurred_at_sent", "received_at",
    "fingerprint", "breakdown", "cost_usd", "markup", "credits_per_usd", "credits",
    "balance_after", "entry_id",
)
BALANCE_AFTER, ENTRY_ID = COLUMNS.index("balance_after"), COLUMNS.index("entry_id")
USER_ID, USER_LABEL = COLUMNS.index("user_id"), COLUMNS.index("user_label")
_BY_NAME = {f.attname: f for f in UsageEvent._meta.concrete_fields if not f.primary_key}
if sorted(_BY_NAME) != sorted(COLUMNS):  # a new column must be given a place here
    raise ImproperlyConfigured(f"storage.COLUMNS differs from UsageEvent's columns: "
                               f"{sorted(set(_BY_NAME) ^ set(COLUMNS))}")
FIELDS = [_BY_NAME[name] for name in COLUMNS]
_ENTRY = UsageEvent._meta.get_field("entry")


def encode_breakdown(quote, *, as_text: bool):
    """The quote's breakdown as the column takes it: JSON text for PostgreSQL's raw
    statements (`as_text`, bulk.copy_usable()), else the dict."""
    return bulk.JsonText(quote.breakdown_json()) if as_text else quote.breakdown()


def encodes_for_copy(events: int) -> bool:
    """Whether a batch of this many events encodes its rows for COPY before the lock:
    one that large is written by COPY unless most of it turns out to be duplicates."""
    return events >= writers.COPY_THRESHOLD and bulk.copy_usable()


def copy_text_head(row: list) -> str:
    """A row's COPY text up to balance_after: the two values set under the lock are
    appended there (`insert_events`)."""
    return bulk.text_row(row[:BALANCE_AFTER])


def insert_events(rows: list[list], *, heads: list[str | None] = ()) -> None:
    """Insert usage events given as lists of values in COLUMNS order; `heads`: their
    copy_text_head, when they have it."""
    if not rows:
        return
    if heads and None not in heads and bulk.copy_usable():
        bulk.copy_text(UsageEvent, FIELDS, [
            f"{head}\t{bulk.text_row(row[BALANCE_AFTER:])}\n"
            for head, row in zip(heads, rows, strict=True)])
    elif bulk.copy_usable():
        bulk.copy_rows(UsageEvent, FIELDS, rows)
    else:
        UsageEvent.objects.bulk_create([UsageEvent(**dict(zip(COLUMNS, row, strict=True)))
                                        for row in rows], batch_size=500)


def insert_statement(rows: list[list], *, entry_seqs: list[int | None]) -> tuple[str, list]:
    """One INSERT of the events (PostgreSQL), for a small book's single statement
    (billing/ledger/store/postgres_writes.py): each event's entry is found among the statement's new
    entries `e(id, seq)` by its seq (None: a free event, no entry)."""
    params = []
    for row, seq in zip(rows, entry_seqs, strict=True):
        params += row[:ENTRY_ID]
        params.append(seq)
    return _insert_sql(len(rows)), params


_INSERT_FIELDS = FIELDS[:ENTRY_ID]  # entry_id is last: the statement finds it by the seq
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
