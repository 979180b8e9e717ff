"""On PostgreSQL, verify_ledger has each charge's events summed and their events-v2 lines
built by the database (billing/ledger/verify_usage_sql.py): it must give the count,
credits and digest the Python path gives, whatever the keys and numbers hold."""

from decimal import Decimal

import pytest

from billing.ledger.usage_charges import DIGEST_VERSION, EVENTS_DIGEST
from billing.ledger.verify_usage import ChargeRows, events_by_entry
from billing.ledger.verify_usage_sql import SQL_VERSION, summed_events_by_entry
from billing.models import CreditAccount, LedgerEntry, UsageEvent
from billing.usage.ingestion.record import record_usage
from tests.billing.postings import grant
from tests.billing.usage_fixtures import ai_event, gpu_event, seed_prices

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Keys that would sort or split differently if the database's lines were not Python's:
# the unit separator, a colon after digits (the length prefix), non-ASCII of two, three
# and four bytes in UTF-8, and keys that are prefixes of each other.
AWKWARD_KEYS = ["a\x1fb", "10:x", "ü-ключ", "日本", "emoji 😀", "a", "a0", "A", "~"]


def both_paths(account):
    python = {entry_id: ChargeRows(rows) for entry_id, rows in events_by_entry(account)}
    database = dict(summed_events_by_entry(account))
    assert python.keys() == database.keys()
    return python, database


@pytest.fixture
def charged(org):
    seed_prices()
    grant(org, 5000)
    record_usage(organization=org, events=[
        ai_event(f"k{n}", input_tokens=1000 + n, cached_input_tokens=n, output_tokens=7)
        for n in range(len(AWKWARD_KEYS))] + [gpu_event("g1", quantity="0.000001"),
                                              gpu_event("g2", quantity="12345.5")])
    record_usage(organization=org, events=[gpu_event("single")])
    return CreditAccount.objects.get(organization=org)


def test_the_database_digests_a_charge_as_python_does(org, charged):
    python, database = both_paths(charged)
    assert len(database) == 2
    for entry_id, summed in database.items():
        entry = LedgerEntry.objects.get(pk=entry_id)
        assert entry.metadata["events_version"] == SQL_VERSION == DIGEST_VERSION
        assert (summed.count, summed.credits) == (python[entry_id].count,
                                                  python[entry_id].credits)
        assert summed.digest(SQL_VERSION) == entry.metadata[EVENTS_DIGEST]
        assert summed.digest(SQL_VERSION) == python[entry_id].digest(SQL_VERSION)


def test_awkward_keys_and_extreme_numbers_give_the_same_lines_both_ways(org, charged):
    events = UsageEvent.objects.filter(idempotency_key__startswith="k").order_by("pk")
    for event, key in zip(events, AWKWARD_KEYS, strict=True):
        UsageEvent.objects.filter(pk=event.pk).update(idempotency_key=key)
    UsageEvent.objects.filter(idempotency_key="g2").update(
        quantity=Decimal("12345678901234.5"), cost_usd=Decimal("0.0000000000000001"),
        markup=Decimal("123456789012.12345678"), credits=Decimal("0"))
    python, database = both_paths(charged)
    for entry_id, summed in database.items():
        assert summed.digest(SQL_VERSION) == python[entry_id].digest(SQL_VERSION)
        assert summed.credits == python[entry_id].credits


def test_another_version_is_hashed_from_its_rows(org, charged):
    _, database = both_paths(charged)
    entry_id, summed = next(iter(database.items()))
    rows = ChargeRows(list(UsageEvent.objects.filter(entry_id=entry_id).values_list(
        "entry_id", "idempotency_key", "type", "resource", "input_tokens", "output_tokens",
        "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "quantity", "credits",
        "ai_model_id", "meter_id", "cost_usd", "markup", "credits_per_usd")))
    assert summed.digest("events-v1") == rows.digest("events-v1")
    assert summed.digest("events-v1") != summed.digest(SQL_VERSION)


def test_a_key_altered_to_hold_a_newline_cannot_pass(org, charged):
    """The lines are split on newlines before they are sorted: a line that holds one
    splits into more lines than the charge has events, so no digest can match."""
    from billing.ledger.verify import verify_ledger

    UsageEvent.objects.filter(idempotency_key="k1").update(idempotency_key="k1\n0:")
    assert [p.message for p in verify_ledger(organization=org).problems] == [
        "its events differ from those its digest covers: altered"]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_events_are_read_beside_the_chain_in_its_snapshot(
        org, monkeypatch):
    """As an operator runs it, each account's events are read by a second connection that
    imports the account's snapshot: it sees the same rows, reports the same problems, and
    a reader that stops early releases it."""
    import threading

    from django.db import connection, transaction

    from billing.ledger import verify_usage_sql
    from billing.ledger.verify import verify_ledger

    seed_prices()
    grant(org, 5000)
    record_usage(organization=org, events=[ai_event("a"), gpu_event("b"), ai_event("c")])
    threads = []
    original = verify_usage_sql._fetch_in_snapshot
    monkeypatch.setattr(verify_usage_sql, "_fetch_in_snapshot", lambda *args: (
        threads.append(threading.current_thread().name), original(*args))[1])
    assert verify_ledger().problems == []
    assert threads == ["verify-prefetch"]
    UsageEvent.objects.filter(idempotency_key="b").update(quantity=Decimal("1"))
    assert [p.message for p in verify_ledger().problems] == [
        "its events differ from those its digest covers: altered"]
    account = CreditAccount.objects.get(organization=org)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        events = summed_events_by_entry(account, beside=True)
        next(events)
        events.close()
    assert not any(t.name == "verify-prefetch" for t in threading.enumerate())
