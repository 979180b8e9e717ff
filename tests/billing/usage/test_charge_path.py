"""The charge path's shape: a small batch written in one statement under the lock, and a
large one charging exactly what each event is quoted."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import CreditAccount, CreditGrant, DailyUsage, GrantKind, LedgerEntry
from billing.models.usage import UsageEvent
from billing.usage.ingestion import estimate_usage, record_usage
from tests.billing.postings import assert_ledger_ok, grant
from tests.billing.usage_fixtures import AI_CREDITS, GPU_CREDITS, ai_event, gpu_event, seed_prices
from tests.conftest import make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def prices(db):
    return seed_prices()


def ends_the_transaction(sql: str) -> bool:
    return sql == "COMMIT" or sql.startswith("RELEASE SAVEPOINT")  # the test's own atomic


def from_the_lock(queries: list[str]) -> list[str]:
    """The statement that takes the lock, and those sent until the transaction ends."""
    start = next(i for i, q in enumerate(queries) if "FOR UPDATE" in q)
    end = next(i for i, q in enumerate(queries) if ends_the_transaction(q))
    return queries[start:end]


def test_one_event_is_written_by_one_statement_and_nothing_runs_after_commit(org):
    grant(org, "100", key="test:start")
    make_member(org, "ana@acme.test")
    record_usage(organization=org, events=[gpu_event("warm")])
    with CaptureQueriesContext(connection) as captured:
        result = record_usage(organization=org, events=[ai_event("one", user="ana@acme.test",
                                                                 operation="chat")])
    queries = [q["sql"] for q in captured.captured_queries]
    # One round trip takes the lock and reads the grants and the known keys after it.
    lock_and_reads, write = from_the_lock(queries)
    lock, grants, known, users = lock_and_reads.split("; ")
    assert lock.endswith("FOR UPDATE") and "billing_creditgrant" in grants
    assert "billing_usageevent" in known and "billing_ledgerentry" in known
    assert "accounts_user" in users  # the user named, read with the lock
    for table in ("billing_ledgerentry", "billing_grantallocation", "billing_creditgrant",
                  "billing_creditaccount", "billing_usageevent", "billing_dailyusage"):
        assert f'"{table}"' in write or f"{table} " in write, table
    assert ends_the_transaction(queries[-1])  # no listener reads: no level is watched

    expected = Decimal("100") - GPU_CREDITS - AI_CREDITS
    assert result.results[0].balance_after == expected
    event = UsageEvent.objects.select_related("entry", "user").get(idempotency_key="one")
    assert event.entry.idempotency_key == "usage:one" and event.entry.amount == -AI_CREDITS
    assert (event.balance_after, event.user.email) == (expected, "ana@acme.test")
    assert CreditAccount.objects.get(organization=org).balance == expected
    assert CreditGrant.objects.get(account__organization=org).remaining == expected
    chat = DailyUsage.objects.get(organization=org, operation="chat")
    assert (chat.event_count, chat.credits, chat.user_label) == (1, AI_CREDITS, "ana@acme.test")
    assert_ledger_ok(org)


def test_a_small_batch_links_each_event_to_its_own_entry(org):
    now = timezone.now()
    grant(org, "5", key="test:expiring", kind=GrantKind.PROMOTIONAL,
          expires_at=now + timedelta(seconds=1), now=now)
    grant(org, "10", key="test:start", now=now)
    record_usage(organization=org, events=[gpu_event("before", quantity="1")], now=now)
    later = now + timedelta(seconds=2)  # the promotional grant expires in the batch's book
    result = record_usage(organization=org, now=later, events=[
        ai_event("a", occurred_at=later.isoformat()),
        ai_event("free", input_tokens=0, output_tokens=0),
        gpu_event("before", quantity="1"),  # a duplicate
        gpu_event("too-dear", quantity="100000"),  # insufficient credits
        gpu_event("b", quantity="10"),
    ])
    assert [r.status for r in result.results] == [
        "charged", "charged", "duplicate", "rejected", "charged"]
    for event in UsageEvent.objects.filter(organization=org).exclude(credits=0):
        assert event.entry.idempotency_key == f"usage:{event.idempotency_key}"
        assert (event.entry.amount, event.entry.balance_after) == (-event.credits,
                                                                   event.balance_after)
    assert UsageEvent.objects.get(idempotency_key="free").entry is None
    assert LedgerEntry.objects.filter(account__organization=org, kind="expiry").count() == 1
    assert DailyUsage.objects.get(organization=org, resource="compute.gpu_seconds").event_count == 2
    assert_ledger_ok(org)


def test_a_mixed_batch_of_1000_charges_each_event_its_own_quote(org):
    grant(org, "1000000", key="test:start")
    make_member(org, "ana@acme.test")
    rng = random.Random(13)
    now = timezone.now()
    events = []
    for i in range(1000):
        if rng.random() < 0.7:
            tokens = rng.randint(0, 9000)
            events.append(ai_event(
                f"k{i}", input_tokens=tokens, cached_input_tokens=rng.randint(0, tokens),
                output_tokens=rng.randint(0, 3000), user=rng.choice(["", "ana@acme.test"]),
                occurred_at=(now - timedelta(minutes=rng.randint(0, 3000))).isoformat()))
        else:
            events.append(gpu_event(f"k{i}", quantity=f"{rng.uniform(0.000001, 900):.6f}",
                                    operation=rng.choice(["", "train", "serve"])))
    result = record_usage(organization=org, events=events, now=now)
    quoted = [estimate_usage(organization=org, events=[event], now=now) for event in events]
    assert [r.credits for r in result.results] == quoted
    assert all(r.status == "charged" for r in result.results)
    total = sum(quoted, Decimal(0))
    assert CreditAccount.objects.get(organization=org).balance == Decimal("1000000") - total
    assert sum(DailyUsage.objects.filter(organization=org).values_list("credits", flat=True),
               Decimal(0)) == total
    assert_ledger_ok(org)
