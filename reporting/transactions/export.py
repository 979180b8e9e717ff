"""The transactions CSV: exactly the filtered rows, streamed in id order, six places.

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

COLUMNS = (
    ("entry", "id"),
    ("created_at_utc", "created_at"),
    ("kind", "kind"),
    ("amount", "amount"),
    ("balance_after", "balance_after"),
    ("actor_type", "actor_type"),
    ("actor", "actor_label"),
    ("reason", "reason"),
    ("usage_type", "usage_event__type"),
    ("model_or_meter", "usage_event__resource"),
    ("operation", "usage_event__operation"),
    ("user", "usage_event__user_label"),
    ("cost_usd", "usage_event__cost_usd"),
    ("reverses", "reverses_id"),
    ("idempotency_key", "idempotency_key"),
)
HEADER = tuple(name for name, _ in COLUMNS)
CHUNK = 2000


def transaction_rows(queryset: QuerySet) -> Iterator[tuple]:
    fields = [field for _, field in COLUMNS]
    rows = queryset.order_by("id").values_list(*fields)
    with transaction.atomic(using=rows.db):
        connection = connections[rows.db]
        if connection.vendor == "postgresql":
            # The plan of a whole big ledger costs past the JIT thresholds, and compiling
            # it delays the first row; rows are sent a chunk at a time, so there is
            # nothing for JIT to win back.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield from rows.iterator(chunk_size=CHUNK)
