"""The transactions CSV: exactly the filtered rows, streamed in the page's order, six places.

Rows come from a server-side cursor (`iterator`) as plain tuples, so memory stays
flat however many there are; cells pass through csv_export.safe_cell.

The cursor is read inside one transaction. Outside one (a request without
ATOMIC_REQUESTS), Django declares it WITH HOLD, and PostgreSQL then computes and
stores the whole result when the DECLARE commits, before the first row goes
out (seconds to minutes on a large ledger: bench/history.md). In a transaction
the rows are read as they are sent, with PostgreSQL's JIT off for it.
"""

from collections.abc import Iterator

from django.db import connections, transaction
from django.db.models import QuerySet

from reporting.transactions.usage_summary import summaries, used_spans

# The entry's own columns; a usage entry's events' (usage_summary) go after "reason",
# several values of a charge of many events joined by "; ".
COLUMNS = (
    ("entry", "id"),
    ("created_at_utc", "created_at"),
    ("kind", "kind"),
    ("amount", "amount"),
    ("balance_after", "balance_after"),
    ("actor_type", "actor_type"),
    ("actor", "actor_label"),
    ("reason", "reason"),
    ("reverses", "reverses_id"),
    ("idempotency_key", "idempotency_key"),
)
USAGE_AFTER = 8  # the usage columns' place: after reason
USED_AFTER = 2  # when a usage entry's events happened: after created_at_utc
HEADER = (*(name for name, _ in COLUMNS[:USED_AFTER]), "used_from_utc", "used_until_utc",
          *(name for name, _ in COLUMNS[USED_AFTER:USAGE_AFTER]),
          "usage_type", "model_or_meter", "operation", "user", "cost_usd",
          *(name for name, _ in COLUMNS[USAGE_AFTER:]))
CHUNK = 2000


def transaction_rows(queryset: QuerySet, order: tuple[str, ...] = ("-id",)) -> Iterator[tuple]:
    """`order` is the page's (pages.SORTS): newest first unless the reader sorted otherwise."""
    for chunk in _chunks(queryset, order):
        keys = [(row[0], row[2], row[-1]) for row in chunk]
        usage, spans = summaries(keys), used_spans(keys)
        for row in chunk:
            summary, span = usage.get(row[0]), spans.get(row[0])
            yield (*row[:USED_AFTER], *(span or ("", "")), *row[USED_AFTER:USAGE_AFTER],
                   *(summary or ("",) * 5), *row[USAGE_AFTER:-1])


def _chunks(queryset: QuerySet, order: tuple[str, ...]) -> Iterator[list[tuple]]:
    fields = [field for _, field in COLUMNS] + ["metadata"]
    rows = queryset.order_by(*order).values_list(*fields)
    with transaction.atomic(using=rows.db):
        connection = connections[rows.db]
        if connection.vendor == "postgresql":
            # The plan of a whole big ledger costs past the JIT thresholds, and compiling
            # it delays the first row; rows are sent a chunk at a time, so there is
            # nothing for JIT to win back.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        chunk = []
        for row in rows.iterator(chunk_size=CHUNK):
            chunk.append(row)
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
