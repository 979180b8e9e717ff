"""Many clients reporting usage to one org at once (PostgreSQL: SQLite ignores row locks)."""

from decimal import Decimal

import pytest

from billing.models import CreditAccount, DailyUsage, EntryKind, LedgerEntry, UsageEvent
from tests.billing.postings import assert_ledger_ok
from tests.billing.usage_fixtures import (
    GPU_CREDITS,
    api_key_for,
    funded,
    gpu_event,
    post_events,
    seed_prices,
)
from tests.concurrency import run_many
from tests.conftest import make_org

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_32_clients_on_one_org_that_cannot_pay_for_all():
    seed_prices()
    org = make_org("race")
    funded(org, 100)  # 13 GPU events of 7.23 fit, 19 do not
    raw_key = api_key_for(org).raw_key
    results = run_many(32, lambda i: post_events(raw_key, [gpu_event(f"e{i}")]))
    assert not [r for r in results if isinstance(r, Exception)], results
    outcomes = [r["results"][0] for r in results]
    charged = [o for o in outcomes if o["status"] == "charged"]
    rejected = [o for o in outcomes if o["status"] == "rejected"]
    assert len(charged) == 13 and len(rejected) == 19
    assert {o["error"]["code"] for o in rejected} == {"insufficient_credits"}
    balance = CreditAccount.objects.get(organization=org).balance
    # No lost update: the drop is exactly what was charged.
    assert Decimal(100) - balance == sum(Decimal(o["credits"]) for o in charged)
    assert balance == Decimal(100) - 13 * GPU_CREDITS >= 0
    # Each charge saw a distinct balance, never below zero.
    afters = sorted(Decimal(o["balance_after"]) for o in charged)
    assert len(set(afters)) == 13 and afters[0] >= 0
    assert UsageEvent.objects.filter(organization=org).count() == 13
    assert LedgerEntry.objects.filter(kind=EntryKind.USAGE).count() == 13
    assert DailyUsage.objects.get().event_count == 13
    assert_ledger_ok(org)


def test_one_key_from_many_clients_is_charged_once():
    seed_prices()
    org = make_org("replay")
    funded(org, 100)
    raw_key = api_key_for(org).raw_key
    results = run_many(16, lambda i: post_events(raw_key, [gpu_event("same")]))
    statuses = sorted(r["results"][0]["status"] for r in results)
    assert statuses == ["charged"] + ["duplicate"] * 15
    assert {r["results"][0]["balance_after"] for r in results} == {
        f"{100 - GPU_CREDITS:.6f}"
    }
    assert CreditAccount.objects.get(organization=org).balance == 100 - GPU_CREDITS
    assert_ledger_ok(org)


def test_concurrent_batches_each_take_the_lock_once():
    seed_prices()
    org = make_org("batches")
    funded(org, 100000)
    raw_key = api_key_for(org).raw_key
    results = run_many(
        8, lambda i: post_events(raw_key, [gpu_event(f"b{i}-{n}") for n in range(100)])
    )
    assert all(r["results"][-1]["status"] == "charged" for r in results)
    assert CreditAccount.objects.get(organization=org).balance == 100000 - 800 * GPU_CREDITS
    assert DailyUsage.objects.get().event_count == 800
    assert_ledger_ok(org)


def test_a_batch_that_waited_for_the_lock_charges_at_the_moment_it_got_it():
    """Its clock is read under the lock: it cannot draw on a grant that expired while it
    waited (it would, were the time taken when the request arrived)."""
    import threading
    import time
    from datetime import timedelta

    from django.utils import timezone

    from billing.ledger.book import open_book
    from billing.usage.ingestion.record import record_usage
    from tests.billing.postings import grant
    from tests.concurrency import run_together

    seed_prices()
    org = make_org("waits")
    expires_at = timezone.now() + timedelta(seconds=1.5)
    grant(org, 100, expires_at=expires_at)
    locked = threading.Event()

    def hold_the_lock():
        with open_book(organization=org):
            locked.set()
            time.sleep((expires_at - timezone.now()).total_seconds() + 0.3)

    def charge():
        assert locked.wait(10)
        return record_usage(organization=org, events=[gpu_event("late")])

    _, result = run_together([hold_the_lock, charge])
    assert not isinstance(result, Exception), result
    assert result.results[0].status == "rejected"
    assert result.results[0].error["code"] == "insufficient_credits"
    expiry = LedgerEntry.objects.get(account__organization=org, kind=EntryKind.EXPIRY)
    assert expiry.created_at >= expires_at and not UsageEvent.objects.exists()
    assert_ledger_ok(org)


def test_a_request_that_waited_for_the_lock_reads_what_the_holder_committed():
    """The grants and known keys travel with the lock (billing/ledger/store/postgres.py) but
    are read after it is granted: a request queued behind a holder that adds a grant and
    uses the request's key sees both (a read taken before the wait would miss them: no
    grant to draw on, and the key charged twice)."""
    import threading

    from django.db import transaction

    from billing.ledger.actor import Actor
    from billing.ledger.book import open_book
    from billing.models import GrantKind
    from billing.usage.ingestion.record import estimate_usage, record_usage
    from tests.concurrency import run_together, wait_until_another_session_waits_for_a_lock

    seed_prices()
    org = make_org("queued")
    holding, asking = threading.Event(), threading.Event()

    def hold_the_lock():
        with open_book(organization=org) as book:
            holding.set()
            book.grant(amount=Decimal(100), grant_kind=GrantKind.ADJUSTMENT,
                       entry_kind=EntryKind.ADJUSTMENT, actor=Actor.system("test"),
                       reason="test grant", idempotency_key="test:late-grant")
            assert asking.wait(10)
            wait_until_another_session_waits_for_a_lock()  # the other request is queued

    def charge(key):
        assert holding.wait(10)
        asking.set()
        return record_usage(organization=org, events=[gpu_event(key)])

    _, result = run_together([hold_the_lock, lambda: charge("fresh")])
    assert not isinstance(result, Exception), result
    assert result.results[0].status == "charged"  # drawn on the grant added meanwhile
    assert CreditAccount.objects.get(organization=org).balance == 100 - GPU_CREDITS

    holding.clear()
    asking.clear()

    def hold_and_use_the_key():
        with transaction.atomic():  # the charge's lock is held until this block commits
            record_usage(organization=org, events=[gpu_event("taken", quantity="1")])
            holding.set()
            assert asking.wait(10)
            wait_until_another_session_waits_for_a_lock()

    _, result = run_together([hold_and_use_the_key, lambda: charge("taken")])
    assert not isinstance(result, Exception), result
    assert result.results[0].status == "rejected"  # the key's event was seen, not charged twice
    assert result.results[0].error["code"] == "idempotency_conflict"
    one_second = estimate_usage(organization=org, events=[gpu_event("x", quantity="1")])
    assert CreditAccount.objects.get(organization=org).balance == 100 - GPU_CREDITS - one_second
    assert_ledger_ok(org)
