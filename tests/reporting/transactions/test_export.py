"""The transactions CSV's rows are read inside one transaction, opened when the first
row is asked for and closed with the last: outside one, PostgreSQL would store the
whole result of the WITH HOLD cursor before sending the first row."""

import pytest
from django.db import connection

from billing.models import LedgerEntry
from reporting.transactions.export import transaction_rows
from tests.billing.postings import consume, grant

pytestmark = pytest.mark.django_db(transaction=True)


def test_rows_are_read_in_one_transaction_that_ends_with_them(org):
    grant(org, 10)
    consume(org, "1", key="usage:1")
    entries = LedgerEntry.objects.filter(account__organization=org)
    rows = transaction_rows(entries)
    assert not connection.in_atomic_block
    seen = []
    for row in rows:
        seen.append((row[0], connection.in_atomic_block))
    assert seen == [(pk, True) for pk in entries.order_by("-id").values_list("id", flat=True)]
    assert not connection.in_atomic_block


@pytest.mark.postgres
def test_jit_is_off_while_the_rows_are_read_and_only_then(org):
    grant(org, 10)
    entries = LedgerEntry.objects.filter(account__organization=org)

    def jit():
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            return cursor.fetchone()[0]

    before = jit()
    during = [jit() for _ in transaction_rows(entries)]
    assert during == ["off"] and jit() == before
