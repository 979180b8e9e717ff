"""The transactions CSV streams: memory while consuming it stays flat as the rows grow.

Rows are planted straight into the ledger table with one INSERT ... SELECT from
generate_series (a memory measurement needs many rows, not a valid hash chain).
The default run compares 6,000 rows with 30,000; EXPORT_MEMORY_ROWS=1000000 runs
the million-row measurement (about a minute; see docs/operate.md).
"""

import os
import tracemalloc

import pytest
from django.db import connection
from django.urls import reverse

from billing.ledger.credit_accounts import ensure_account
from reporting.transactions.export import CHUNK

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ROWS = int(os.environ.get("EXPORT_MEMORY_ROWS", "30000"))


def plant_entries(account, *, start: int, count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO billing_ledgerentry (account_id, seq, kind, amount, balance_after,
                actor_type, actor_label, reason, idempotency_key, fingerprint, metadata,
                created_at, hash, key_id)
            SELECT %s, n, 'adjustment', 1.5, n * 1.5, 'system', 'system:bench',
                   '=not a formula ' || n, 'bench:' || n, '', '{}', now(), '', ''
            FROM generate_series(%s, %s) AS n
            """,
            [account.pk, start, start + count - 1],
        )


def consume(client, org) -> tuple[int, int, int]:
    """(rows, bytes, peak traced bytes) while reading the whole export."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    response = client.get(reverse("transactions_csv", args=[org.slug]))
    rows = size = 0
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        size += len(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return rows - 1, size, peak


def test_memory_is_flat_in_the_number_of_rows(member_client, org):
    account = ensure_account(organization=org)
    consume(member_client, org)  # warm up: templates, URL resolvers, first-use imports
    small = max(ROWS // 10, 3 * CHUNK)  # a few full chunks already
    plant_entries(account, start=1, count=small)
    rows_small, _, peak_small = consume(member_client, org)
    plant_entries(account, start=small + 1, count=ROWS - small)
    rows_big, size_big, peak_big = consume(member_client, org)
    print(f"\nexport of {rows_big:,} rows ({size_big / 1e6:.1f} MB): peak traced "
          f"{peak_big / 1e6:.2f} MB; of {rows_small:,} rows: {peak_small / 1e6:.2f} MB")
    assert (rows_small, rows_big) == (small, ROWS)
    # Ten times the rows, about the same peak: one chunk of the cursor and one CSV line,
    # never the file.
    assert peak_big < peak_small * 1.25 + 500_000
