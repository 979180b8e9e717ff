"""Many writers on one account at once (PostgreSQL: SQLite ignores row locks)."""

from decimal import Decimal

import pytest

from billing.ledger.errors import IdempotencyConflict, InsufficientCredits
from billing.models import CreditAccount, EntryKind, LedgerEntry
from tests.billing.postings import D, assert_ledger_ok, consume, grant
from tests.concurrency import run_many
from tests.conftest import make_org

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_fifty_threads_consume_thirty_each_from_a_thousand():
    org = make_org("race")
    grant(org, 1000)
    results = run_many(50, lambda i: consume(org, 30, key=f"usage:t{i}"))
    succeeded = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert len(succeeded) == 33 and len(refused) == 17
    assert CreditAccount.objects.get(organization=org).balance == D(10)
    assert LedgerEntry.objects.filter(kind=EntryKind.USAGE).count() == 33
    assert_ledger_ok(org)


def test_one_key_from_twenty_threads_posts_once_and_everyone_gets_the_original():
    org = make_org("replay")
    grant(org, 100)
    results = run_many(20, lambda i: consume(org, 7, key="usage:same"))
    assert not [r for r in results if isinstance(r, Exception)]
    entry_ids = {r.entry.pk for r in results}
    assert len(entry_ids) == 1
    assert sum(1 for r in results if not r.replayed) == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.USAGE).count() == 1
    assert CreditAccount.objects.get(organization=org).balance == Decimal(93)

    with pytest.raises(IdempotencyConflict):
        consume(org, 8, key="usage:same")
    assert LedgerEntry.objects.filter(kind=EntryKind.USAGE).count() == 1
    assert_ledger_ok(org)
